// ca.js -- the Connect CA: roots with their expiry (the active one
// marked, live through blocking queries) and the CA configuration
// (read-only here; reading it needs operator:write).

import { get, watch } from "../api.js";
import { h, render, message, explain, when, DAY } from "../dom.js";

export const title = "Certificate authority";

export function mount(el, signal) {
	const rootsMsg = h("div#ca-roots-msg");
	const roots = h("div#ca-roots");
	const cfgMsg = h("div#ca-config-msg");
	const cfg = h("div#ca-config");
	render(el, h("h2", "Roots"), rootsMsg, roots, h("h2", "Configuration"), cfgMsg, cfg);
	watch("/v1/connect/ca/roots", {}, (d) => {
		message(rootsMsg);
		render(roots,
		    h("p", "Trust domain: ", h("code#ca-trust-domain", d.TrustDomain)),
		    h("table#ca-roots-table",
			h("thead", h("tr", ["Name", "ID", "Key", "Valid from", "Expires", ""]
			    .map((x) => h("th", { scope: "col" }, x)))),
			h("tbody", (d.Roots || []).map((r) => {
				const left = new Date(r.NotAfter) - Date.now();
				return h("tr", { "data-id": r.ID, class: r.ID === d.ActiveRootID ? "active" : false },
				    h("td", r.Name), h("td", h("code", r.ID)),
				    h("td", (r.PrivateKeyType || "") + " " + (r.PrivateKeyBits || "")),
				    h("td", when(r.NotBefore).replace(/ \(.*\)$/, "")),
				    h("td", when(r.NotAfter), left < 30 * DAY ? [" ", h("span.tag.soon", "expires within 30 days")] : null),
				    h("td", r.ID === d.ActiveRootID ? h("span.tag.active", "active") :
					h("span.muted", "rotated out")));
			}))));
	}, (e) => message(rootsMsg, "error", explain(e)), signal);
	get("/v1/connect/ca/configuration", { signal }).then((r) => {
		render(cfg, h("p", "Provider: ", h("strong", r.data.Provider)),
		    h("table#ca-config-table", h("tbody",
			Object.entries(r.data.Config || {}).map(([k, v]) =>
			    h("tr", h("th", { scope: "row" }, k), h("td", h("code", typeof v === "string" ? v : JSON.stringify(v))))))),
		    h("p.muted", "Read-only here; change it with PUT /v1/connect/ca/configuration (a rotation)."));
	}, (e) => {
		if (e.name !== "AbortError")
			message(cfgMsg, "error", explain(e));
	});
}
