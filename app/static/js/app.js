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

// A searchable multi-select: typing filters the options (an option matches by its text or its group's label,
// a year or a program), choices are kept; a group with nothing left to show is hidden.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input.picker-search").forEach((input) => {
    const select = document.getElementById(input.dataset.picker);
    if (!select) return;
    input.addEventListener("input", () => {
      const q = input.value.trim().toLowerCase();
      for (const option of select.options) {
        const group = option.parentElement.tagName === "OPTGROUP" ? option.parentElement.label : "";
        const text = `${group} ${option.text}`.toLowerCase();
        option.hidden = q !== "" && !option.selected && !text.includes(q);
      }
      for (const group of select.querySelectorAll("optgroup")) {
        group.hidden = [...group.children].every((option) => option.hidden);
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

// The person picker: search as one types (name, phone, last digits of the ID number); arrows and Enter choose.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".person-picker").forEach((box) => {
    const input = box.querySelector("input[type=search]");
    const hidden = box.querySelector("input[type=hidden]");
    const list = box.querySelector("[role=listbox]");
    const chosen = box.querySelector(".hint[aria-live]");
    let items = [];
    let active = -1;
    let timer = null;
    const show = (open) => {
      list.hidden = !open;
      input.setAttribute("aria-expanded", open ? "true" : "false");
    };
    const highlight = (index) => {
      active = index;
      list.querySelectorAll("li").forEach((li, i) => li.setAttribute("aria-selected", i === index ? "true" : "false"));
      if (index >= 0) input.setAttribute("aria-activedescendant", `${list.id}-${index}`);
      else input.removeAttribute("aria-activedescendant");
    };
    const choose = (person) => {
      hidden.value = person.id;
      input.value = person.name;
      chosen.textContent = [person.name, person.unit, person.id_number].join(" · ");
      show(false);
    };
    const render = () => {
      list.replaceChildren();
      items.forEach((p, i) => {
        const li = document.createElement("li");
        li.id = `${list.id}-${i}`;
        li.setAttribute("role", "option");
        li.textContent = [p.name, p.unit, p.id_number, p.phone].filter(Boolean).join(" · ");
        li.addEventListener("mousedown", (event) => {
          event.preventDefault();
          choose(p);
        });
        list.appendChild(li);
      });
      highlight(items.length ? 0 : -1);
      show(items.length > 0);
    };
    input.addEventListener("input", () => {
      hidden.value = "";
      chosen.textContent = "";
      clearTimeout(timer);
      const q = input.value.trim();
      if (!q) {
        items = [];
        render();
        return;
      }
      timer = setTimeout(async () => {
        const response = await fetch(`${box.dataset.searchUrl}?q=${encodeURIComponent(q)}`, {
          credentials: "same-origin",
        });
        if (!response.ok || input.value.trim() !== q) return;
        items = (await response.json()).items;
        render();
      }, 200);
    });
    input.addEventListener("keydown", (event) => {
      if (list.hidden) return;
      if (event.key === "ArrowDown") highlight(Math.min(active + 1, items.length - 1));
      else if (event.key === "ArrowUp") highlight(Math.max(active - 1, 0));
      else if (event.key === "Enter" && active >= 0) choose(items[active]);
      else if (event.key === "Escape") show(false);
      else return;
      event.preventDefault();
    });
    input.addEventListener("blur", () => show(false));
  });
});

// A print button (no inline script: the policy forbids it).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-print]").forEach((button) => button.addEventListener("click", () => window.print()));
});

// Live counts: the projector's and the roster's check-ins, every five seconds, without reloading.
// On the roster, a QR check-in fills a row only while the coordinator has not changed that row.
document.addEventListener("DOMContentLoaded", () => {
  const live = document.querySelector("[data-live-url]");
  if (!live) return;
  const roster = document.querySelector("table.roster");
  const touched = new Set();
  if (roster) {
    roster.addEventListener("change", (event) => {
      const row = event.target.closest("tr[data-person]");
      if (row) touched.add(row.dataset.person);
    });
  }
  const tick = async () => {
    try {
      const response = await fetch(live.dataset.liveUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      document.querySelectorAll("[data-live]").forEach((el) => {
        if (data[el.dataset.live] !== undefined) el.textContent = data[el.dataset.live];
      });
      if (!roster) return;
      for (const [person, mark] of Object.entries(data.marks)) {
        if (mark.method !== "qr" || touched.has(person)) continue;
        const row = roster.querySelector(`tr[data-person="${person}"]`);
        if (!row) continue;
        const radio = row.querySelector(`input[type=radio][value="${mark.status}"]`);
        if (radio && !radio.checked) radio.checked = true;
        const method = row.querySelector(".method");
        if (method) method.textContent = roster.dataset.qrLabel;
      }
    } finally {
      setTimeout(tick, 5000);
    }
  };
  setTimeout(tick, 5000);
});

// A lesson read to the end is marked done: its end in view after at least ten seconds on the page.
// (The button does the same without script; a failed request leaves the button to press.)
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-auto-done]");
  const undo = document.querySelector("form[data-undo-done]");
  if (!form || form.hidden || !undo || !("IntersectionObserver" in window)) return;
  let inView = false;
  let ready = false;
  let sent = false;
  const send = () => {
    if (sent || !inView || !ready) return;
    sent = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
    }).then((response) => {
      if (response.ok) {
        form.hidden = true;
        undo.hidden = false;
      } else {
        sent = false;
      }
    }, () => { sent = false; });
  };
  new IntersectionObserver((entries) => {
    inView = entries.some((entry) => entry.isIntersecting);
    send();
  }).observe(form);
  window.setTimeout(() => { ready = true; send(); }, 10000);
});

// The account menu closes when the reader clicks or tabs elsewhere, or presses Escape in it (a disclosure
// closes on its own summary only).
document.addEventListener("DOMContentLoaded", () => {
  const menu = document.querySelector("details.account");
  if (!menu) return;
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  // Tabbing past its last item closes it too.
  menu.addEventListener("focusout", (event) => {
    if (menu.open && event.relatedTarget && !menu.contains(event.relatedTarget)) menu.open = false;
  });
  // Escape is the menu's only while focus is in it (the person search has its own).
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.open) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
});

// On a phone the sections are one row that scrolls sideways: bring the page one is on into view.
document.addEventListener("DOMContentLoaded", () => {
  const nav = document.querySelector(".mainnav");
  const active = nav && nav.querySelector("a.active");
  if (!active || nav.scrollWidth <= nav.clientWidth) return;
  const offset = active.getBoundingClientRect().left - nav.getBoundingClientRect().left;
  nav.scrollLeft += offset - (nav.clientWidth - active.offsetWidth) / 2;
});
