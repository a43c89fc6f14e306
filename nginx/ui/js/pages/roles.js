// roles.js -- ACL roles: list with search, create/edit/delete.

import { put } from "../api.js";
import { h, render, field, message, explain, names } from "../dom.js";
import { listPage, rowButton, deleteButton } from "../listpage.js";

export const title = "Roles";

const links = (xs) => (xs || []).map((x) => x.Name).join(", ");
const svcs = (r) => (r.ServiceIdentities || []).map((s) => s.ServiceName).join(", ");

export function mount(el, signal) {
	const p = listPage("role", {
		text: (r) => [r.Name, r.Description, links(r.Policies), svcs(r)].join(" "),
		cols: 5, empty: "No roles.",
		row: (r) => {
			const acts = h("td.actions");
			render(acts,
			    rowButton("Edit", "Edit role " + r.Name, () => edit(r)),
			    deleteButton(acts, "Delete role " + r.Name, "Delete role " + r.Name + "?",
				() => p.remove("/v1/acl/role/" + encodeURIComponent(r.ID),
				    "Deleted role " + r.Name + ".")));
			return h("tr", { "data-name": r.Name }, h("td", r.Name), h("td", r.Description || ""),
			    h("td", links(r.Policies)), h("td", svcs(r)), acts);
		},
	});
	const edit = (r) => p.open((done) => roleForm(r, done));

	render(el,
	    h("div.row", field("Search roles", p.search),
		h("button.primary#role-new", { type: "button", onclick: () => edit(null) }, "New role")),
	    p.formArea, p.msg,
	    p.table(["Name", "Description", "Policies", "Service identities", ""]));
	p.watch("/v1/acl/roles", signal);
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
