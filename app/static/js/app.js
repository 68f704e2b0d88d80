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
