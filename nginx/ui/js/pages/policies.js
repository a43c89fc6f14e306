// policies.js -- ACL policies: list with search, create/edit/delete,
// and the rules editor with the API's validation error beside it.

import { get, put } from "../api.js";
import { h, render, field, message, explain, names } from "../dom.js";
import { listPage, rowButton, deleteButton } from "../listpage.js";

export const title = "Policies";

export function mount(el, signal) {
	const p = listPage("pol", {
		text: (x) => x.Name + " " + (x.Description || "") + " " + x.ID,
		cols: 4, empty: "No policies.",
		row: (x) => {
			const acts = h("td.actions");
			render(acts,
			    rowButton("Edit", "Edit policy " + x.Name, () => edit(x)),
			    x.ID === "00000000-0000-0000-0000-000000000001" ? null :
			    deleteButton(acts, "Delete policy " + x.Name, "Delete policy " + x.Name + "?",
				() => p.remove("/v1/acl/policy/" + encodeURIComponent(x.ID),
				    "Deleted policy " + x.Name + ".")));
			return h("tr", { "data-name": x.Name },
			    h("td", x.Name), h("td", x.Description || ""),
			    h("td", (x.Datacenters || []).join(", ") || h("span.muted", "all")), acts);
		},
	});

	async function edit(stub) {
		let x = null;
		if (stub) {
			try {	// the list leaves Rules out
				x = (await get("/v1/acl/policy/" + encodeURIComponent(stub.ID), { signal })).data;
			} catch (e) {
				return message(p.msg, "error", explain(e));
			}
		}
		p.open((done) => policyForm(x, done), "input, textarea");
	}

	render(el,
	    h("div.row", field("Search policies", p.search),
		h("button.primary#pol-new", { type: "button", onclick: () => edit(null) }, "New policy")),
	    p.formArea, p.msg,
	    p.table(["Name", "Description", "Datacenters", ""]));
	p.watch("/v1/acl/policies", signal);
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
