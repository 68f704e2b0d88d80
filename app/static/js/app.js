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
