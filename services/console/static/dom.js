// Building the page and running its forms.
//
// Forms never clear themselves on an error: the person's input stays where it is, each
// reason of the server's problem document is put next to the field it names (the field's
// ``name``, or a ``data-fields`` list for inputs that answer for several), and what names
// no field goes to the form's own error line. Reasons are shown in the person's language.

import { ApiError, Unauthorized } from "./api.js";
import { h } from "./common-dom.js";
import { problemText, reasonText, t } from "./i18n.js";

// The element builder is the one the metrics dashboard uses; the screens take it from here.
export { h };

/** An in-app link (the router takes the click; a new tab gets the real address). */
export function link(href, ...children) {
  return h("a", { href, "data-link": "" }, ...children);
}

let fieldSeq = 0;

/**
 * A labelled field: ``field("support_needed", t("support_needed"), input, hint)``. The
 * input gets an id and the error slot is placed right after it, inside the same block.
 */
export function field(label, input, ...hints) {
  if (!input.id) input.id = `f${++fieldSeq}`;
  return h(
    "div",
    { class: "field" },
    h("label", { for: input.id }, label),
    input,
    ...hints,
    h("p", { class: "field-error", role: "alert", hidden: true }),
  );
}

/** A select of ``[value, label]`` choices, with an empty first choice if ``placeholder``. */
export function select(name, choices, { value, placeholder, required } = {}) {
  const el = h("select", { name, required });
  if (placeholder !== undefined) el.append(h("option", { value: "" }, placeholder));
  for (const [v, label] of choices) {
    el.append(h("option", { value: v, selected: v === value }, label));
  }
  if (value !== undefined) el.value = value;
  return el;
}

function inputsFor(form, name) {
  const found = [];
  for (const el of form.querySelectorAll("[name], [data-fields]")) {
    const names = [el.getAttribute("name"), ...(el.dataset.fields || "").split(/\s+/)];
    if (names.includes(name)) found.push(el);
  }
  return found;
}

function slotOf(input) {
  return input.closest(".field")?.querySelector(":scope > .field-error") ?? null;
}

/** Remove every error shown on the form. */
export function clearErrors(form) {
  for (const slot of form.querySelectorAll(".field-error, .form-error")) {
    slot.textContent = "";
    slot.hidden = true;
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/** Show an ApiError on the form: each field's reason by its field, the rest on top. */
export function showError(form, error) {
  clearErrors(form);
  const general = [];
  const problem = error instanceof ApiError ? error.problem : null;
  if (error instanceof Unauthorized) general.push(t("problem_signed_out"));
  const fieldErrors = error instanceof ApiError ? error.fieldErrors : [];
  for (const { field: name, reason } of fieldErrors) {
    const inputs = inputsFor(form, name);
    const slot = inputs.length ? slotOf(inputs[0]) : null;
    if (!slot) {
      general.push(`${name}: ${reasonText(reason, name)}`);
      continue;
    }
    const text = reasonText(reason, name);
    slot.textContent = slot.textContent ? `${slot.textContent}; ${text}` : text;
    slot.hidden = false;
    for (const input of inputs) {
      input.setAttribute("aria-invalid", "true");
      if (slot.id === "") slot.id = `${input.id || `e${++fieldSeq}`}-error`;
      input.setAttribute("aria-describedby", slot.id);
    }
  }
  if (!fieldErrors.length && !(error instanceof Unauthorized)) {
    // A problem naming no field (a state conflict, a refusal) is about the whole form.
    general.push(problem ? problemText(problem) : reasonText(String(error?.message || error)));
  }
  const top = form.querySelector(".form-error");
  if (top && general.length) {
    top.textContent = [...new Set(general)].join(" ");
    top.hidden = false;
  }
  const first = form.querySelector("[aria-invalid]") || top;
  first?.focus?.({ preventScroll: true });
  first?.scrollIntoView?.({ block: "center", behavior: "instant" });
}

/** The line at the top of a form for problems about the whole form. */
export function formError() {
  return h("p", { class: "form-error", role: "alert", hidden: true });
}

/** Tell the shell the sign-in ran out (it offers signing in again without leaving the page). */
export function signedOut() {
  window.dispatchEvent(new CustomEvent("salesops:unauthorized"));
}

/**
 * Run ``action(submitter)`` on submit: buttons disabled meanwhile, errors shown on the form,
 * nothing reset. A 401 (the sign-in ran out while typing) keeps the page as it is: the
 * form says so, and once the person has signed in again (in another tab) they resubmit.
 */
export function onSubmit(form, action) {
  form.noValidate = true; // the server judges; its reasons are shown in the person's language
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submitter = event.submitter;
    const buttons = [...form.querySelectorAll("button")];
    const wasDisabled = buttons.map((b) => b.disabled);
    buttons.forEach((b) => {
      b.disabled = true;
    });
    form.setAttribute("aria-busy", "true");
    clearErrors(form);
    try {
      await action(submitter);
    } catch (error) {
      if (error instanceof Unauthorized) signedOut();
      showError(form, error);
    } finally {
      buttons.forEach((b, i) => {
        b.disabled = wasDisabled[i];
      });
      form.removeAttribute("aria-busy");
    }
  });
  return form;
}

/** A short message at the bottom of the screen. */
export function toast(text) {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    box.hidden = true;
  }, 3000);
}

/** A section card with a heading. */
export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, ...children);
}

/** What a failed load shows in place of the content. */
export function failure(error) {
  if (error instanceof Unauthorized) {
    signedOut();
    return h("p", { class: "empty" }, t("problem_signed_out"));
  }
  const text = error instanceof ApiError ? problemText(error.problem) : String(error);
  return h("p", { class: "banner", role: "alert" }, t("load_failed", { msg: text }));
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren(
    ...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false),
  );
  return el;
}

// ---------------------------------------------------------------- keeping what was typed

/**
 * The values of every form on the page, by the form's ``data-key`` and the field's name,
 * files included: a re-render (a language switch) puts them back with ``restoreForms``.
 */
export function snapshotForms(root = document) {
  const saved = new Map();
  for (const form of root.querySelectorAll("form[data-key]")) {
    const values = [];
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === "file") values.push([el.name, el.dataset.slot || "", "files", el.files]);
      else if (el.type === "checkbox" || el.type === "radio")
        values.push([el.name, el.value, "checked", el.checked]);
      else values.push([el.name, null, "value", el.value]);
    }
    saved.set(form.dataset.key, values);
  }
  return saved;
}

export function restoreForms(saved, root = document) {
  for (const form of root.querySelectorAll("form[data-key]")) {
    const values = saved.get(form.dataset.key);
    if (!values) continue;
    for (const [name, extra, kind, value] of values) {
      const candidates = [...form.elements].filter((el) => el.name === name);
      if (kind === "files") {
        const el = candidates.find((c) => c.type === "file" && (c.dataset.slot || "") === extra);
        if (el && value && value.length) el.files = value;
      } else if (kind === "checked") {
        const el = candidates.find((c) => c.value === extra);
        if (el) el.checked = value;
      } else if (candidates[0]) {
        candidates[0].value = value;
      }
      for (const el of candidates) el.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }
}

/**
 * Redraw a list keyed by id, keeping the elements of items still there (and so whatever
 * was typed in their forms); ``render(item)`` makes the element of a new item.
 */
export function keyedList(container, items, keyOf, render, empty) {
  const existing = new Map([...container.children].map((el) => [el.dataset.keyId, el]));
  const next = items.map((item) => {
    const key = String(keyOf(item));
    const el = existing.get(key) || render(item);
    el.dataset.keyId = key;
    return el;
  });
  if (!next.length && empty) next.push(empty());
  container.replaceChildren(...next);
}
