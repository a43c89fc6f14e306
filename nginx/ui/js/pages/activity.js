// activity.js -- who changed what: the audit log (GET /v1/operator/audit,
// operator:read), newest first, with a search box and live through
// blocking queries; and a few of this node's metrics (GET
// /v1/agent/metrics, agent:read), read again every 10 s.

import { get } from "../api.js";
import { h, render, field, message, explain, matches } from "../dom.js";

export const title = "Activity";

const KEEP = 500;	// records held in the page, newest kept
const PAGE = 1000;	// the endpoint's largest page

function describe(r) {
	return [r.Actor, r.Source, r.Method, r.Route, r.Kind, r.Object,
	    r.Outcome, r.Node].join(" ");
}

export function mount(el, signal) {
	const msg = h("div#act-msg");
	const mmsg = h("div#act-metrics-msg");
	const tbody = h("tbody#act-rows");
	const stats = h("dl#act-metrics.stats");
	const search = h("input#act-search", { type: "search", size: 40 });
	let recs = [];

	function rows() {
		const list = recs.filter((r) => matches(describe(r), search.value))
		    .slice().reverse();
		if (!list.length)
			return render(tbody, h("tr", h("td.muted", { colspan: 7 },
			    recs.length ? "No record matches." : "No records yet.")));
		render(tbody, list.map((r) => h("tr", { "data-seq": String(r.Seq) },
		    h("td", h("time", { datetime: r.Time }, (r.Time || "").replace("T", " ").slice(0, 19))),
		    h("td", r.Actor ? h("code", { title: r.Actor }, r.Actor.slice(0, 8)) : h("span.muted", "none")),
		    h("td", r.Source || ""),
		    h("td", [r.Method, r.Route].filter((x) => x).join(" ")),
		    h("td", r.Kind || ""),
		    h("td", r.Object || ""),
		    h("td", { class: /^ok/.test(r.Outcome || "") ? "" : "denied" }, r.Outcome || ""))));
	}

	// Every record after seq, a page at a time, then the blocking loop:
	// ?after=<last seq>&index=<the audit table's index>&wait=30s.
	async function follow() {
		let after = 0, index = 0;
		while (!signal.aborted) {
			try {
				const query = { after, limit: PAGE };
				if (index)
					Object.assign(query, { index, wait: "30s" });
				const r = await get("/v1/operator/audit", { query, signal });
				const got = r.data || [];
				if (got.length) {
					recs = recs.concat(got).slice(-KEEP);
					after = got[got.length - 1].Seq;
				}
				if (msg.querySelector(".error"))
					message(msg);
				rows();
				// A full page: more may wait, read on at once.
				index = got.length === PAGE ? 0 : r.index;
			} catch (e) {
				if (signal.aborted || e.name === "AbortError")
					return;
				message(msg, "error", explain(e, "operator:read"));
				if (e.status === 403 || e.status === 401 || e.status === 400)
					return;
				index = 0;
				await new Promise((res) => setTimeout(res, 2000));
			}
		}
	}

	const sum = (m, name) => (m.Counters || []).filter((c) => c.Name === name)
	    .reduce((a, c) => a + (c.Sum || 0), 0);
	const gauge = (m, name) => (m.Gauges || []).filter((g) => g.Name === name)
	    .reduce((a, g) => a + (g.Value || 0), 0);

	async function metrics() {
		try {
			const m = (await get("/v1/agent/metrics", { signal })).data;
			const days = gauge(m, "consul.mesh.active-root-ca.expiry") / 86400;
			const items = [
				["Requests answered", sum(m, "portcullis.http.requests")],
				["Authorize allowed", sum(m, "portcullis.authorize.allowed")],
				["Authorize denied", sum(m, "portcullis.authorize.denied")],
				["Failed logins", sum(m, "portcullis.acl.login.failed")],
				["Logins refused (429)", sum(m, "portcullis.acl.login.rate_limited")],
				["Blocking queries parked", gauge(m, "portcullis.blocking.parked")],
				["Leaves signed", sum(m, "portcullis.leaf.signed")],
				["Worker restarts", sum(m, "portcullis.worker.restarts")],
				["Active root expires in", days ? Math.floor(days) + " days" : "unknown"],
			];
			render(stats, items.map(([k, v]) => [h("dt", k),
			    h("dd", { "data-metric": k }, String(v))]));
			message(mmsg);
			return true;
		} catch (e) {
			if (signal.aborted || e.name === "AbortError")
				return false;
			message(mmsg, "error", explain(e, "agent:read"));
			return e.status !== 403 && e.status !== 401;
		}
	}

	async function poll() {
		while (!signal.aborted && await metrics())
			await new Promise((res) => {
				const t = setTimeout(res, 10000);
				signal.addEventListener("abort", () => { clearTimeout(t); res(); },
				    { once: true });
			});
	}

	search.addEventListener("input", rows);
	render(el,
	    h("section", { "aria-labelledby": "act-metrics-h" },
		h("h2#act-metrics-h", "This node"),
		h("p.muted", "Counted since this node's master started (all its workers)."),
		mmsg, stats),
	    h("section", { "aria-labelledby": "act-audit-h" },
		h("h2#act-audit-h", "Audit log"),
		h("div.row", field("Search the audit log", search,
		    "Words matched against actor, source, route, kind, object and outcome.")),
		msg,
		h("table#act-table",
		    h("thead", h("tr", ["Time (UTC)", "Actor", "Source", "Request", "Kind", "Object", "Outcome"]
			.map((x) => h("th", { scope: "col" }, x)))),
		    tbody)));
	follow();
	poll();
}
