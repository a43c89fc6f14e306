// policies.js -- ACL policies: list with search, create/edit/delete,
// and the rules editor with the API's validation error beside it.

import { get, put, del, watch } from "../api.js";
import { h, render, field, message, explain, confirmIn, names, matches } from "../dom.js";

export const title = "Policies";

export function mount(el, signal) {
	const msg = h("div#pol-msg");
	const tbody = h("tbody#pol-rows");
	const formArea = h("div#pol-form-area");
	const search = h("input#pol-search", { type: "search", size: 40 });
	let all = [];

	function rows() {
		const list = all.filter((p) => matches(p.Name + " " + (p.Description || "") + " " + p.ID, search.value));
		if (!list.length)
			return render(tbody, h("tr", h("td.muted", { colspan: 4 }, "No policies.")));
		render(tbody, list.map((p) => {
			const acts = h("td.actions");
			render(acts,
			    h("button.small", { type: "button", "aria-label": "Edit policy " + p.Name,
				onclick: () => edit(p) }, "Edit"),
			    p.ID === "00000000-0000-0000-0000-000000000001" ? null :
			    h("button.small", { type: "button", "aria-label": "Delete policy " + p.Name,
				onclick: () => confirmIn(acts, "Delete policy " + p.Name + "?", () => remove(p)) }, "Delete"));
			return h("tr", { "data-name": p.Name },
			    h("td", p.Name), h("td", p.Description || ""),
			    h("td", (p.Datacenters || []).join(", ") || h("span.muted", "all")), acts);
		}));
	}

	async function remove(p) {
		try {
			await del("/v1/acl/policy/" + encodeURIComponent(p.ID));
			message(msg, "ok", "Deleted policy " + p.Name + ".");
		} catch (e) {
			message(msg, "error", explain(e));
		}
	}

	async function edit(stub) {
		let p = null;
		if (stub) {
			try {	// the list leaves Rules out
				p = (await get("/v1/acl/policy/" + encodeURIComponent(stub.ID), { signal })).data;
			} catch (e) {
				return message(msg, "error", explain(e));
			}
		}
		render(formArea, policyForm(p, (text) => {
			render(formArea);
			if (text)
				message(msg, "ok", text);
		}));
		formArea.querySelector("input, textarea").focus();
	}

	search.addEventListener("input", rows);
	render(el,
	    h("div.row", field("Search policies", search),
		h("button.primary#pol-new", { type: "button", onclick: () => edit(null) }, "New policy")),
	    formArea, msg,
	    h("table#pol-table",
		h("thead", h("tr", ["Name", "Description", "Datacenters", ""].map((x) => h("th", { scope: "col" }, x)))),
		tbody));
	watch("/v1/acl/policies", {}, (list) => {
		all = list || [];
		rows();
	}, (e) => message(msg, "error", explain(e)), signal);
}

function policyForm(p, done) {
	const isNew = !p;
	p = p || {};
	const name = h("input#pol-name", { type: "text", required: true, value: p.Name || "" });
	const desc = h("input#pol-description", { type: "text", size: 50, value: p.Description || "" });
	const dcs = h("input#pol-datacenters", { type: "text", size: 30,
	    value: (p.Datacenters || []).join(", ") });
	const rulesErr = h("div#pol-rules-error.editor-error");
	const rules = h("textarea#pol-rules.code", { spellcheck: "false", value: p.Rules || "",
	    "aria-describedby": "pol-rules-error",
	    placeholder: 'service_prefix "" { policy = "read" }' });
	const msg = h("div#pol-form-msg");
	const heading = isNew ? "New policy" : "Edit policy " + p.Name;
	const form = h("form#pol-form", { "aria-label": heading }, h("h2", heading),
	    h("div.row", field("Name", name), field("Description", desc)),
	    field("Datacenters (names, comma-separated; empty: all)", dcs),
	    h("div.field", h("label", { for: "pol-rules" }, "Rules (HCL or JSON)"), rules, rulesErr),
	    msg,
	    h("div.row", h("button.primary", { type: "submit" }, "Save"),
		h("button", { type: "button", onclick: () => done() }, "Cancel")));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		message(rulesErr);
		message(msg);
		const body = { Name: name.value.trim(), Description: desc.value, Rules: rules.value,
		    Datacenters: names(dcs.value) };
		try {
			await put(isNew ? "/v1/acl/policy" : "/v1/acl/policy/" + encodeURIComponent(p.ID), body);
			done((isNew ? "Created" : "Saved") + " policy " + body.Name + ".");
		} catch (e) {
			// A rules error goes beside the editor, anything else
			// (403, "Invalid Policy: ..." about the name) below.
			// Like Consul, the API answers 500 for both kinds.
			if (e.status >= 400 && e.status !== 403 && e.status !== 401 &&
			    !/^Invalid Policy:/.test(e.message) &&
			    /rule|polic|parse|syntax|expected/i.test(e.message)) {
				message(rulesErr, "error", e.message);
				rules.setAttribute("aria-invalid", "true");
				rules.focus();
			} else
				message(msg, "error", explain(e));
		}
	});
	return form;
}
