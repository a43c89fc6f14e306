// listpage.js -- the wiring the ACL list pages (tokens, policies,
// roles) share: a live list (blocking query) filtered by a search box,
// a form area for create/edit whose outcome goes to the page's message
// region, and the rows' Edit/Delete buttons.  Each page keeps its own
// columns, forms and layout.

import { del, watch } from "./api.js";
import { h, render, message, explain, confirmIn, matches } from "./dom.js";

// A list page's parts, ids prefixed with prefix ("tok": #tok-msg,
// #tok-rows, #tok-form-area, #tok-search).  text(x) is what the search
// box's words are matched against; row(x) makes x's <tr>; cols and
// empty make the row shown when nothing matches.
export function listPage(prefix, { text, row, cols, empty }) {
	const p = {
		msg: h("div#" + prefix + "-msg"),
		tbody: h("tbody#" + prefix + "-rows"),
		formArea: h("div#" + prefix + "-form-area"),
		search: h("input#" + prefix + "-search", { type: "search", size: 40 }),
		all: [],
	};

	// Redraw the rows the search box matches.
	p.rows = () => {
		const list = p.all.filter((x) => matches(text(x), p.search.value));
		if (!list.length)
			return render(p.tbody, h("tr", h("td.muted", { colspan: cols }, empty)));
		render(p.tbody, list.map(row));
	};

	// Show the form make(done) in the form area, focus its first
	// focus control; done(text) closes it and reports text, if any.
	p.open = (make, focus) => {
		render(p.formArea, make((text) => {
			render(p.formArea);
			if (text)
				message(p.msg, "ok", text);
		}));
		p.formArea.querySelector(focus || "input").focus();
	};

	// DELETE path; report ok, or the error.
	p.remove = async (path, ok) => {
		try {
			await del(path);
			message(p.msg, "ok", ok);
		} catch (e) {
			message(p.msg, "error", explain(e));
		}
	};

	// The table, its column headings heads.
	p.table = (heads) => h("table#" + prefix + "-table",
	    h("thead", h("tr", heads.map((x) => h("th", { scope: "col" }, x)))),
	    p.tbody);

	// Keep p.all the list at path, redrawn on every change; fresh(),
	// if given, runs first on each new list.  Ends with signal.
	p.watch = (path, signal, fresh) => watch(path, {}, (list) => {
		p.all = list || [];
		if (fresh)
			fresh();
		p.rows();
	}, (e) => message(p.msg, "error", explain(e)), signal);

	p.search.addEventListener("input", p.rows);
	return p;
}

// A row's small action button; label names the object for a screen
// reader ("Edit role web").
export function rowButton(text, label, onclick) {
	return h("button.small", { type: "button", "aria-label": label, onclick }, text);
}

// A row's Delete button, asking question in the actions cell acts first.
export function deleteButton(acts, label, question, onYes) {
	return rowButton("Delete", label, () => confirmIn(acts, question, onYes));
}
