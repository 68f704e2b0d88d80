// Progressive enhancements only; every page works without script.
document.addEventListener("DOMContentLoaded", () => {
  const unit = document.getElementById("filter-unit");
  if (unit && unit.form) {
    unit.addEventListener("change", () => unit.form.requestSubmit());
  }
});

// The projector page: reload the rotating QR code before it expires.
document.addEventListener("DOMContentLoaded", () => {
  const qr = document.getElementById("qr");
  if (!qr) return;
  const refresh = () => {
    qr.src = qr.dataset.src + "?ts=" + Date.now();
  };
  setInterval(refresh, 10000);
});

// A searchable multi-select: typing filters the options, choices are kept.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input.picker-search").forEach((input) => {
    const select = document.getElementById(input.dataset.picker);
    if (!select) return;
    input.addEventListener("input", () => {
      const q = input.value.trim().toLowerCase();
      for (const option of select.options) {
        option.hidden = q !== "" && !option.selected && !option.text.toLowerCase().includes(q);
      }
    });
  });
});

// A job's page: poll its state for the progress bar until it finishes, then reload once.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("job");
  if (!box || box.dataset.state === "done" || box.dataset.state === "failed") return;
  const tick = async () => {
    const response = await fetch(box.dataset.statusUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const job = await response.json();
    document.getElementById("job-done").textContent = job.progress;
    document.getElementById("job-total").textContent = job.total;
    const bar = document.getElementById("job-progress");
    bar.max = job.total || 1;
    bar.value = job.progress;
    if (job.state === "done" || job.state === "failed" || job.state !== box.dataset.state) {
      window.location.reload();
    } else {
      setTimeout(tick, 1000);
    }
  };
  setTimeout(tick, 1000);
});
