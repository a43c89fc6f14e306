// dom.js -- a small element builder and the few helpers every page
// shares (messages, fields, dates).  No framework: pages build their
// DOM with h() and replace a region's children to re-render it.

// h("tag.class#id", {attr: v, onclick: fn}, ...children) -> Element.
// Children: strings, nodes, arrays of them; null/false/undefined are
// skipped.  Attributes: "class", "for", on<event> handlers, booleans
// (true sets, false omits), everything else with setAttribute.
export function h(spec, attrs, ...children) {
	const m = spec.match(/^([a-z0-9]+)((?:[.#][\w-]+)*)$/i);
	const el = document.createElement(m[1]);
	for (const part of (m[2].match(/[.#][\w-]+/g) || []))
		if (part[0] === ".")
			el.classList.add(part.slice(1));
		else
			el.id = part.slice(1);
	if (attrs && (typeof attrs !== "object" || attrs instanceof Node ||
	    Array.isArray(attrs))) {
		children.unshift(attrs);
		attrs = null;
	}
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === false || v === null || v === undefined)
			continue;
		if (k.startsWith("on") && typeof v === "function")
			el.addEventListener(k.slice(2), v);
		else if (k === "value")
			el.value = v;
		else if (k === "checked")
			el.checked = !!v;
		else
			el.setAttribute(k, v === true ? "" : String(v));
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false)
			continue;
		if (Array.isArray(c))
			append(el, c);
		else
			el.append(c instanceof Node ? c : String(c));
	}
}

// Replace el's children.
export function render(el, ...children) {
	el.replaceChildren();
	append(el, children);
	return el;
}

// A labelled form field: label + control (+ hint).  ctl is an element
// made with h(); its id ties the label to it.
export function field(label, ctl, hint) {
	const hid = hint ? ctl.id + "-hint" : null;
	if (hid)
		ctl.setAttribute("aria-describedby", hid);
	return h("div.field",
	    h("label", { for: ctl.id }, label), ctl,
	    hint ? h("small.hint", { id: hid }, hint) : null);
}

// A message region: role=alert for errors, role=status otherwise.
export function message(el, kind, text) {
	if (!text)
		return render(el);
	el.setAttribute("role", kind === "error" ? "alert" : "status");
	return render(el, h("p.msg." + kind, text));
}

// The explanation for an API error, for a message region.  need names
// the permission the call needs: added when the API's 403 text does
// not say it (intention writes answer Consul's bare "Permission denied").
export function explain(e, need) {
	if (e.status === 403)
		return "Not allowed with this token: " + e.message +
		    (need && !/lacks permission/.test(e.message) ?
		    " (this needs " + need + ")" : "");
	if (e.status === 401)
		return e.message + " (this server runs without ACLs).";
	return e.message;
}

// A confirmation inside the page (no window.confirm): replaces el's
// children with the question and two buttons until one is pressed.
// yesText labels the button that goes ahead ("Yes, delete" unless given).
export function confirmIn(el, question, onYes, yesText) {
	const keep = [...el.childNodes];
	const back = () => { el.replaceChildren(...keep); };
	const yes = h("button.danger", { type: "button", onclick: () => { back(); onYes(); } }, yesText || "Yes, delete");
	render(el, h("span.confirm", question + " "), yes, " ",
	    h("button", { type: "button", onclick: back }, "Cancel"));
	yes.focus();
}

export const DAY = 86400000;

// "2026-01-02 03:04 UTC (in 3 days)" for an RFC 3339 time.
export function when(s) {
	if (!s)
		return "";
	const d = new Date(s);
	if (isNaN(d))
		return s;
	const rel = (d - Date.now()) / DAY;
	let r;
	if (rel < 0)
		r = "expired";
	else if (rel < 1)
		r = "in " + Math.max(1, Math.round(rel * 24)) + " h";
	else
		r = "in " + Math.floor(rel) + " days";
	return d.toISOString().slice(0, 16).replace("T", " ") + " UTC (" + r + ")";
}

// Split "a, b ,c" into ["a","b","c"].
export function names(s) {
	return s.split(",").map((x) => x.trim()).filter((x) => x);
}

// Text matches a search box's words (all of them, any case).
export function matches(text, query) {
	const t = text.toLowerCase();
	return query.toLowerCase().split(/\s+/).filter((w) => w)
	    .every((w) => t.includes(w));
}
