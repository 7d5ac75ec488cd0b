/* oscar-recovery prompts: the server decides what a visitor may see (#oscar-recovery-config),
   this script when. No dependencies; strict-CSP safe. */
(() => {
const d = document, w = window;
let cfg, ss, modalOpen = false, typedAt = 0;
try { cfg = JSON.parse(d.getElementById("oscar-recovery-config").textContent); } catch { return; }
try { ss = w.sessionStorage; ss.length; } catch { ss = 0; }
const visit = cfg.visit || "1";
const get = k => ss && ss.getItem(k);
const set = k => ss && ss.setItem(k, visit);
const $ = (el, sel) => el.querySelector(sel);
const on = (el, type, fn, opt) => el.addEventListener(type, fn, opt);
const post = (url, body, keepalive) => fetch(url, {
  method: "POST", keepalive,
  headers: { "Content-Type": "application/json", "X-CSRFToken": cfg.csrf },
  body: JSON.stringify({ ...body, visit: cfg.visit, language: cfg.language })
});
// A lost statistic is never a page error.
const track = (p, event) => post(cfg.events, { prompt: p.id, variant: p.variant, event }, true).catch(() => {});
// Typing, or an open <select>, is not leaving.
const isField = el => /^(INPUT|SELECT|OPTION|TEXTAREA)$/.test(el?.tagName);
on(d, "keydown", e => { if (isField(e.target)) typedAt = Date.now(); }, true);

const render = p => d.getElementById(p.template)?.content.firstElementChild?.cloneNode(true);

const wire = (p, el, done) => {
  on(el, "click", e => {
    const t = e.target.closest("[data-orc-dismiss],[data-orc-cta]");
    if (t) t.hasAttribute("data-orc-cta") ? track(p, "cta") : done();
  });
  const form = $(el, "form[data-orc-capture]");
  if (!form) return;
  const input = form.elements.email, err = $(form, ".orc-error"), btn = $(form, "[type=submit]");
  const fail = (msg, field = input) => {
    btn.disabled = false;
    err.textContent = msg || "";
    err.hidden = !msg;
    field.setAttribute("aria-invalid", "true");
    field.focus();
  };
  on(form, "submit", async e => {
    e.preventDefault();
    const bad = $(form, ":invalid"); // the address, or a required consent
    if (bad) return fail(bad.validationMessage, bad);
    const consent = form.elements.consent;
    btn.disabled = true;
    let r, data;
    try {
      r = await post(cfg.capture, { prompt: p.id, variant: p.variant, email: input.value.trim(), consent: !!consent?.checked });
      data = await r.json();
    } catch { return fail(err.dataset.orcFallback); }
    if (!r.ok) {
      const errors = data.errors || {}, key = Object.keys(errors)[0];
      return fail(key ? errors[key][0] : data.error, (key && form.elements[key]) || input);
    }
    el.orcDone = true;
    set("orc:done:" + p.id);
    form.hidden = true;
    const offer = $(el, "[data-orc-offer]"), code = $(el, "[data-orc-code]");
    $(offer, "[data-orc-message]").textContent = data.message || "";
    if (data.voucher) code.value = data.voucher;
    else code.parentNode.hidden = true;
    offer.hidden = false;
    offer.tabIndex = -1;
    offer.focus();
  });
};

const showModal = p => {
  if (modalOpen || get("orc:shown") === visit || get("orc:done:" + p.id)) return;
  const dlg = render(p), opener = d.activeElement;
  if (!dlg?.showModal) return;
  modalOpen = true;
  set("orc:shown");
  d.body.append(dlg);
  wire(p, dlg, () => dlg.close());
  // Esc and close end here: a dismissal unless the email was given.
  on(dlg, "close", () => {
    if (!dlg.orcDone) track(p, "dismissed");
    dlg.remove();
    opener?.focus?.();
  });
  // Tab wraps inside the dialog.
  on(dlg, "keydown", e => {
    if (e.key !== "Tab") return;
    const f = [...dlg.querySelectorAll("a[href],button,input,select,textarea")].filter(x => !x.disabled && x.getClientRects().length);
    const [a, z] = e.shiftKey ? [f[0], f.at(-1)] : [f.at(-1), f[0]];
    if (d.activeElement === a) { z.focus(); e.preventDefault(); }
  });
  dlg.showModal();
  $(dlg, "input[type=email]")?.focus();
  track(p, "shown");
};

const showBanner = (p, t) => {
  const f = t.field && $(d, t.field), form = f?.form;
  const el = (form || !t.field) && !get("orc:dismissed:" + p.id) && !get("orc:done:" + p.id) && render(p);
  if (!el) return;
  // Guest help: in the form's flow.
  if (form) {
    form.before(el);
    on($(el, "[data-orc-guest]"), "click", () => {
      const o = form.elements.options;
      if (o) o.value = "anonymous";
      f.value.trim() && f.checkValidity() ? form.requestSubmit() : f.focus();
    });
  } else ($(d, "main") || d.body).prepend(el);
  wire(p, el, () => {
    if (!el.orcDone) { set("orc:dismissed:" + p.id); track(p, "dismissed"); }
    el.remove();
  });
  track(p, "shown");
};

const armExit = (p, t) => {
  let armed = false, grace;
  setTimeout(() => { armed = true; }, t.armMs || 0);
  on(d, "mouseout", e => {
    if (!armed || e.relatedTarget || e.clientY > 0 || isField(e.target) ||
        d.activeElement.tagName === "SELECT" || Date.now() - typedAt < 1500) return;
    clearTimeout(grace);
    grace = setTimeout(() => showModal(p), t.graceMs || 0);
  });
  // Back within the grace period: it only grazed the edge.
  on(d, "mouseover", () => clearTimeout(grace));
  if (t.mobileScroll && w.matchMedia("(pointer: coarse)").matches) {
    let lastY = w.scrollY, lastT = Date.now();
    on(w, "scroll", () => {
      const y = w.scrollY, now = Date.now(), speed = (lastY - y) / Math.max(now - lastT, 1);
      lastY = y; lastT = now;
      if (armed && speed > 1.5) showModal(p); // px/ms up
    }, { passive: true });
  }
};

const armCapture = (p, t) => {
  if (t.delayMs != null) setTimeout(() => showModal(p), t.delayMs);
  if (t.scrollPercent != null) {
    const check = () => {
      const h = d.documentElement.scrollHeight - w.innerHeight;
      if (h <= 0 || w.scrollY / h * 100 >= t.scrollPercent) { w.removeEventListener("scroll", check); showModal(p); }
    };
    on(w, "scroll", check, { passive: true });
  }
  if (t.delayMs == null && t.scrollPercent == null) showModal(p);
};

for (const p of cfg.prompts || []) {
  const t = p.trigger || {};
  if (p.kind === "exit_intent") armExit(p, t);
  else if (p.kind === "email_capture") armCapture(p, t);
  else showBanner(p, t);
}

// Abandoned tab: a reminder in the tab strip.
const tab = cfg.tab;
let title = null, icon, added, oldHref;
if (tab) on(d, "visibilitychange", () => {
  if (d.hidden) {
    if (title !== null) return;
    title = d.title;
    d.title = tab.title;
    if (!tab.favicon) return;
    icon = $(d, "link[rel~=icon]");
    added = !icon;
    if (added) { icon = d.createElement("link"); icon.rel = "icon"; d.head.append(icon); }
    oldHref = icon.getAttribute("href");
    icon.href = tab.favicon;
  } else if (title !== null) {
    d.title = title;
    title = null;
    if (icon) added ? icon.remove() : icon.setAttribute("href", oldHref);
    icon = null;
  }
});

// Live capture (where lawful): a valid address once typed.
const live = cfg.liveCapture, field = live && $(d, live.selector);
let sent = "", timer;
if (field) on(field, "input", () => {
  clearTimeout(timer);
  timer = setTimeout(() => {
    const v = field.value.trim();
    if (v && v !== sent && v.includes("@") && field.checkValidity()) {
      sent = v;
      post(live.endpoint || cfg.capture, { email: v, live: true }, true).catch(() => {});
    }
  }, 1000);
});
})();
