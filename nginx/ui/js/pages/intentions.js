// intentions.js -- the intentions list (precedence order, ?filter=,
// live through blocking queries), the create/edit form (PUT exact),
// delete, and the check panel: would source reach destination, and
// which intention (or the default policy) decides.

import { get, put, del, watch } from "../api.js";
import { h, render, field, message, explain, confirmIn } from "../dom.js";

export const title = "Intentions";

const EXACT = "/v1/connect/intentions/exact";

// Precedence order: higher first, then by destination and source.
function byPrecedence(a, b) {
	return (b.Precedence - a.Precedence) ||
	    a.DestinationName.localeCompare(b.DestinationName) ||
	    a.SourceName.localeCompare(b.SourceName);
}

function actionTag(ixn) {
	if (ixn.Permissions && ixn.Permissions.length)
		return h("span.tag.l7", "L7: " + ixn.Permissions.length +
		    " permission" + (ixn.Permissions.length > 1 ? "s" : ""));
	return h("span.tag." + ixn.Action, ixn.Action);
}

export function mount(el, signal) {
	const listMsg = h("div#ixn-list-msg");
	const tbody = h("tbody#ixn-rows");
	const formArea = h("div#ixn-form-area");
	const filter = h("input#ixn-filter", { type: "search", size: 50,
	    placeholder: 'e.g. DestinationName == "db" and Action == "deny"' });
	const live = h("span.live#ixn-live", { "aria-live": "off" });
	let watcher = null;

	function follow() {
		if (watcher)
			watcher.abort();
		watcher = new AbortController();
		signal.addEventListener("abort", () => watcher.abort(), { once: true });
		const q = { filter: filter.value.trim() };
		watch("/v1/connect/intentions", q, (list, idx) => {
			message(listMsg);
			rows(list || []);
			live.textContent = "live, index " + idx;
		}, (e) => {
			message(listMsg, "error", explain(e));
			if (e.status === 400 || e.status === 403)
				render(tbody);
		}, watcher.signal);
	}

	function rows(list) {
		list.sort(byPrecedence);
		if (!list.length)
			return render(tbody, h("tr", h("td.muted", { colspan: 6 }, "No intentions.")));
		render(tbody, list.map((ixn) => {
			const acts = h("td.actions");
			const name = ixn.SourceName + " → " + ixn.DestinationName;
			render(acts,
			    h("button.small", { type: "button", "aria-label": "Edit " + name,
				onclick: () => edit(ixn) }, "Edit"),
			    h("button.small", { type: "button", "aria-label": "Delete " + name,
				onclick: () => confirmIn(acts, "Delete " + name + "?", () => remove(ixn)) },
				"Delete"));
			return h("tr", { "data-source": ixn.SourceName, "data-destination": ixn.DestinationName },
			    h("td", ixn.SourceName), h("td", ixn.DestinationName),
			    h("td", actionTag(ixn)), h("td", String(ixn.Precedence)),
			    h("td", ixn.Description || ""), acts);
		}));
	}

	async function remove(ixn) {
		try {
			await del(EXACT, { query: { source: ixn.SourceName, destination: ixn.DestinationName } });
			message(listMsg, "ok", "Deleted " + ixn.SourceName + " → " + ixn.DestinationName + ".");
		} catch (e) {
			message(listMsg, "error", explain(e, 'intentions:write on "' + ixn.DestinationName + '"'));
		}
	}

	function edit(ixn) {
		render(formArea, intentionForm(ixn, () => render(formArea)));
		formArea.querySelector("input:not([readonly]), select").focus();
	}

	const filterForm = h("form#ixn-filter-form", { role: "search" },
	    h("div.row", field("Filter (go-bexpr, as ?filter=)", filter),
		h("button", { type: "submit" }, "Apply")), live);
	filterForm.addEventListener("submit", (ev) => { ev.preventDefault(); follow(); });

	render(el,
	    checkPanel(signal),
	    h("h2", "All intentions"),
	    filterForm,
	    h("p", h("button.primary#ixn-new", { type: "button", onclick: () => edit(null) }, "New intention")),
	    formArea, listMsg,
	    h("table#ixn-table",
		h("thead", h("tr", ["Source", "Destination", "Action", "Precedence", "Description", ""]
		    .map((t) => h("th", { scope: "col" }, t)))),
		tbody));
	follow();
}

// The create/edit form.  ixn null: a new one.  Source and destination
// name an exact-API intention, so they are fixed once it exists.
function intentionForm(ixn, done) {
	const isNew = !ixn;
	ixn = ixn || { SourceName: "", DestinationName: "", Action: "allow" };
	const l7 = !!(ixn.Permissions && ixn.Permissions.length);
	const src = h("input#ixn-source", { type: "text", required: true, value: ixn.SourceName, readonly: !isNew });
	const dst = h("input#ixn-destination", { type: "text", required: true, value: ixn.DestinationName, readonly: !isNew });
	const kind = h("select#ixn-kind", h("option", { value: "l4", selected: !l7 }, "L4: allow or deny"),
	    h("option", { value: "l7", selected: l7 }, "L7: HTTP permissions"));
	const action = h("select#ixn-action", ["allow", "deny"].map((a) =>
	    h("option", { value: a, selected: ixn.Action === a }, a)));
	const perms = h("textarea#ixn-permissions.code", { spellcheck: "false",
	    value: l7 ? JSON.stringify(ixn.Permissions, null, 2) :
	    '[\n  {"Action": "allow", "HTTP": {"PathPrefix": "/api"}}\n]' });
	const desc = h("input#ixn-description", { type: "text", size: 50, value: ixn.Description || "" });
	const msg = h("div#ixn-form-msg");
	const actionField = field("Action", action);
	const permsField = field("Permissions (JSON list)", perms,
	    "Consul's Permissions: Action plus an HTTP match (PathExact, PathPrefix, PathRegex, Methods, Header).");
	const sync = () => {
		actionField.hidden = kind.value !== "l4";
		permsField.hidden = kind.value !== "l7";
	};
	kind.addEventListener("change", sync);
	sync();
	const meta = ixn.Meta && Object.keys(ixn.Meta).length ?
	    h("p.muted", "Meta (set through the legacy API, kept): " +
		Object.entries(ixn.Meta).map(([k, v]) => k + "=" + v).join(", ")) : null;
	const form = h("form#ixn-form", { "aria-label": isNew ? "New intention" : "Edit intention" },
	    h("h2", isNew ? "New intention" : "Edit " + ixn.SourceName + " → " + ixn.DestinationName),
	    h("div.row", field("Source service", src), field("Destination service", dst),
		field("Kind", kind), actionField),
	    permsField, field("Description", desc), meta, msg,
	    h("div.row", h("button.primary", { type: "submit" }, "Save"),
		h("button", { type: "button", onclick: done }, "Cancel")));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const body = { Description: desc.value };
		if (kind.value === "l4")
			body.Action = action.value;
		else {
			try {
				body.Permissions = JSON.parse(perms.value);
			} catch (e) {
				return message(msg, "error", "Permissions are not valid JSON: " + e.message);
			}
		}
		try {
			await put(EXACT, body, { query: { source: src.value.trim(), destination: dst.value.trim() } });
			done();
		} catch (e) {
			message(msg, "error", explain(e, 'intentions:write on "' + dst.value.trim() + '"'));
		}
	});
	return form;
}

// The check panel: intentions/check gives the answer; match (by
// destination, precedence order) shows the first intention whose
// source matches, which is the one that decided.
function checkPanel(signal) {
	const src = h("input#check-source", { type: "text", required: true, value: "web" });
	const dst = h("input#check-destination", { type: "text", required: true, value: "db" });
	const out = h("div#check-result", { "aria-live": "polite" });
	const form = h("form#check-form", { "aria-label": "Check a connection" },
	    h("h2", "Check: may source connect to destination?"),
	    h("div.row", field("Source", src), field("Destination", dst),
		h("button.primary", { type: "submit" }, "Check")), out);
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const s = src.value.trim(), d = dst.value.trim();
		render(out, h("p.muted", "Checking…"));
		let allowed, decided;
		try {
			const r = await get("/v1/connect/intentions/check", { query: { source: s, destination: d }, signal });
			allowed = r.data.Allowed;
		} catch (e) {
			return message(out, "error", explain(e));
		}
		try {
			const m = await get("/v1/connect/intentions/match", { query: { by: "destination", name: d }, signal });
			decided = ((m.data && m.data[d]) || []).find((i) => i.SourceName === s || i.SourceName === "*") || null;
		} catch (e) {
			decided = e;
		}
		let why;
		if (decided instanceof Error)
			why = h("p", "The deciding intention cannot be shown: " + explain(decided));
		else if (decided)
			why = h("p#check-decided", "Decided by intention ",
			    h("strong", decided.SourceName + " → " + decided.DestinationName), " ",
			    actionTag(decided), " (precedence " + decided.Precedence + ")",
			    decided.Description ? ": " + decided.Description : "",
			    decided.Permissions && decided.Permissions.length ?
				". L7 permissions count as deny for this L4 check." : ".");
		else
			why = h("p#check-decided", "No intention matches: the default policy decided.");
		render(out, h("p.verdict." + (allowed ? "allow" : "deny"),
		    s + " → " + d + ": " + (allowed ? "allowed" : "denied")), why);
	});
	return form;
}
