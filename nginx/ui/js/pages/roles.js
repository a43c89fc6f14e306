// roles.js -- ACL roles: list with search, create/edit/delete.

import { put, del, watch } from "../api.js";
import { h, render, field, message, explain, confirmIn, names, matches } from "../dom.js";

export const title = "Roles";

const links = (xs) => (xs || []).map((x) => x.Name).join(", ");
const svcs = (r) => (r.ServiceIdentities || []).map((s) => s.ServiceName).join(", ");

export function mount(el, signal) {
	const msg = h("div#role-msg");
	const tbody = h("tbody#role-rows");
	const formArea = h("div#role-form-area");
	const search = h("input#role-search", { type: "search", size: 40 });
	let all = [];

	function rows() {
		const list = all.filter((r) => matches([r.Name, r.Description, links(r.Policies), svcs(r)].join(" "), search.value));
		if (!list.length)
			return render(tbody, h("tr", h("td.muted", { colspan: 5 }, "No roles.")));
		render(tbody, list.map((r) => {
			const acts = h("td.actions");
			render(acts,
			    h("button.small", { type: "button", "aria-label": "Edit role " + r.Name,
				onclick: () => edit(r) }, "Edit"),
			    h("button.small", { type: "button", "aria-label": "Delete role " + r.Name,
				onclick: () => confirmIn(acts, "Delete role " + r.Name + "?", () => remove(r)) }, "Delete"));
			return h("tr", { "data-name": r.Name }, h("td", r.Name), h("td", r.Description || ""),
			    h("td", links(r.Policies)), h("td", svcs(r)), acts);
		}));
	}

	async function remove(r) {
		try {
			await del("/v1/acl/role/" + encodeURIComponent(r.ID));
			message(msg, "ok", "Deleted role " + r.Name + ".");
		} catch (e) {
			message(msg, "error", explain(e));
		}
	}

	function edit(r) {
		render(formArea, roleForm(r, (text) => {
			render(formArea);
			if (text)
				message(msg, "ok", text);
		}));
		formArea.querySelector("input").focus();
	}

	search.addEventListener("input", rows);
	render(el,
	    h("div.row", field("Search roles", search),
		h("button.primary#role-new", { type: "button", onclick: () => edit(null) }, "New role")),
	    formArea, msg,
	    h("table#role-table",
		h("thead", h("tr", ["Name", "Description", "Policies", "Service identities", ""]
		    .map((x) => h("th", { scope: "col" }, x)))),
		tbody));
	watch("/v1/acl/roles", {}, (list) => {
		all = list || [];
		rows();
	}, (e) => message(msg, "error", explain(e)), signal);
}

function roleForm(r, done) {
	const isNew = !r;
	r = r || {};
	const name = h("input#role-name", { type: "text", required: true, value: r.Name || "" });
	const desc = h("input#role-description", { type: "text", size: 50, value: r.Description || "" });
	const pols = h("input#role-policies", { type: "text", size: 40, value: links(r.Policies) });
	const ids = h("input#role-services", { type: "text", size: 40, value: svcs(r) });
	const msg = h("div#role-form-msg");
	const heading = isNew ? "New role" : "Edit role " + r.Name;
	const form = h("form#role-form", { "aria-label": heading }, h("h2", heading),
	    h("div.row", field("Name", name), field("Description", desc)),
	    h("div.row", field("Policies (names, comma-separated)", pols),
		field("Service identities (service names, comma-separated)", ids)),
	    msg,
	    h("div.row", h("button.primary", { type: "submit" }, "Save"),
		h("button", { type: "button", onclick: () => done() }, "Cancel")));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const body = {
			Name: name.value.trim(), Description: desc.value,
			Policies: names(pols.value).map((n) => ({ Name: n })),
			ServiceIdentities: names(ids.value).map((n) => ({ ServiceName: n })),
		};
		try {
			await put(isNew ? "/v1/acl/role" : "/v1/acl/role/" + encodeURIComponent(r.ID), body);
			done((isNew ? "Created" : "Saved") + " role " + body.Name + ".");
		} catch (e) {
			message(msg, "error", explain(e));
		}
	});
	return form;
}
