// The JSON API from the page: POSTs carry the token when one is needed (kept in this
// browser's localStorage, asked for on a 401).
const TOKEN_KEY = "localcloud.token";
let memory = "";  // the token when localStorage is not available

export function token() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(value) {
  try {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // private mode: the token lives as long as the page
  }
  memory = value;
}

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// POSTs `body` (JSON) to `path`; resolves with the answer's JSON, rejects with ApiError.
export async function post(path, body) {
  const headers = { "Content-Type": "application/json" };
  const bearer = token() || memory;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let response;
  try {
    response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body ?? {}), cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, "localcloud cannot be reached", null);
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok || (answer && answer.status === "error")) {
    const message = (answer && (answer.error || answer.message)) || `HTTP ${response.status}`;
    throw new ApiError(response.status, message, answer);
  }
  return answer;
}

export function command(key, property, value) {
  return post(`api/devices/${encodeURIComponent(key)}/set`, { [property]: value });
}

export function request(name, payload) {
  return post(`api/request/${name}`, payload);
}

