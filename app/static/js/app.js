// Progressive enhancements only; every page works without script.
document.addEventListener("DOMContentLoaded", () => {
  const unit = document.getElementById("filter-unit");
  if (unit && unit.form) {
    unit.addEventListener("change", () => unit.form.requestSubmit());
  }
});
