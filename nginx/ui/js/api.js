// api.js -- the UI's only way to the server: fetch() on /v1/ with the
// token from sessionStorage in X-Consul-Token (never in a URL), errors
// as ApiError carrying the API's own text, and blocking queries.

const KEY = "portcullis.token";

export const session = {
	token() { return sessionStorage.getItem(KEY) || ""; },
	set(t) { sessionStorage.setItem(KEY, t); },
	clear() { sessionStorage.removeItem(KEY); },
};

// An error answer from the API: status and the body text as sent.
export class ApiError extends Error {
	constructor(status, text) {
		super(text || ("HTTP " + status));
		this.status = status;
	}
}

function url(path, query) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(query || {}))
		if (v !== undefined && v !== null && v !== "")
			q.set(k, v);
	const s = q.toString();
	return s ? path + "?" + s : path;
}

// call(method, path, {query, body, signal}) -> {data, index}.
// Throws ApiError on a non-2xx answer, AbortError when aborted.
export async function call(method, path, opts = {}) {
	const headers = {};
	const t = session.token();
	if (t)
		headers["X-Consul-Token"] = t;
	let body;
	if (opts.body !== undefined) {
		body = typeof opts.body === "string" ? opts.body :
		    JSON.stringify(opts.body);
		headers["Content-Type"] = "application/json";
	}
	let r;
	try {
		r = await fetch(url(path, opts.query), {
			method, headers, body, signal: opts.signal,
			cache: "no-store", credentials: "omit",
		});
	} catch (e) {
		if (e.name === "AbortError")
			throw e;
		throw new ApiError(0, "The server could not be reached: " + e.message);
	}
	const text = await r.text();
	if (!r.ok)
		throw new ApiError(r.status, text.trim());
	let data = text;
	try {
		data = text === "" ? null : JSON.parse(text);
	} catch {
		// not JSON (e.g. PEM): keep the text
	}
	const idx = r.headers.get("X-Consul-Index");
	return { data, index: idx ? Number(idx) : 0 };
}

export const get = (p, o) => call("GET", p, o);
export const put = (p, body, o = {}) => call("PUT", p, { ...o, body });
export const post = (p, body, o = {}) => call("POST", p, { ...o, body });
export const del = (p, o) => call("DELETE", p, o);

// watch(path, query, onData, onError, signal): a blocking-query loop.
// The first read answers at once; each later one waits (?index=&wait=)
// until the result's X-Consul-Index moves, then calls onData(data).
// On an error: onError(err), then retries after a pause; a 403 stops
// it (retrying cannot help).  Ends when signal aborts.
export async function watch(path, query, onData, onError, signal) {
	let index = 0;
	while (!signal.aborted) {
		try {
			const q = index ? { ...query, index, wait: "30s" } : query;
			const r = await get(path, { query: q, signal });
			if (r.index < index || !r.index)
				index = 0;		// reset, as Consul advises
			if (!index || r.index !== index)
				onData(r.data, r.index);
			index = r.index || 0;
			if (!index)
				await sleep(1000, signal);	// no index: poll
		} catch (e) {
			if (signal.aborted || e.name === "AbortError")
				return;
			onError(e);
			if (e.status === 403 || e.status === 400 || e.status === 401)
				return;
			index = 0;
			await sleep(2000, signal);
		}
	}
}

function sleep(ms, signal) {
	return new Promise((res) => {
		const t = setTimeout(res, ms);
		signal.addEventListener("abort", () => { clearTimeout(t); res(); },
		    { once: true });
	});
}
