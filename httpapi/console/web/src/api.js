// The API client. Requests carry the access token as a bearer token, never a
// cookie, so no other site can make the browser send it (no CSRF). The
// access token lives in memory only; the refresh token in sessionStorage:
// readable by this origin's scripts only, gone when the tab closes, and
// kept so a reload does not sign the user out.

const REFRESH_KEY = "tollway.refreshToken";

let access = null; // {token, expiresAt (ms)}
let user = null;
let refreshing = null;

export class ApiError extends Error {
  // retryAfter: a 429's Retry-After header (seconds, as sent), else "".
  constructor(status, body, retryAfter = "") {
    const e = body?.error ?? {};
    super(e.message ?? `HTTP ${status}`);
    this.status = status;
    this.type = e.type ?? "api_error";
    this.code = e.code ?? "unknown";
    this.fields = e.fields ?? {};
    this.requestId = e.request_id ?? "";
    this.retryAfter = retryAfter;
  }
}

export const currentUser = () => user;
export const signedIn = () => access !== null;

function remember(pair) {
  access = { token: pair.accessToken, expiresAt: Date.now() + pair.expiresIn * 1000 };
  user = pair.user;
  sessionStorage.setItem(REFRESH_KEY, pair.refreshToken);
}

export function forget() {
  access = null;
  user = null;
  sessionStorage.removeItem(REFRESH_KEY);
}

async function send(method, path, body, token, extra = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, parsed, response.headers.get("Retry-After") ?? "");
  return parsed;
}

// refresh exchanges the stored refresh token for a new pair; one exchange at
// a time, since a refresh token works once and reusing it revokes its family.
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const token = sessionStorage.getItem(REFRESH_KEY);
      if (!token) return false;
      try {
        remember(await send("POST", "/v1/auth/refresh", { refreshToken: token }));
        return true;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) {
          forget();
          return false;
        }
        throw err;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

// call sends an authenticated request, refreshing the access token first
// when it is about to expire, and once more when the API says it expired.
export async function call(method, path, body) {
  if (access && access.expiresAt - Date.now() < 10_000) await refresh();
  if (!access) throw new ApiError(401, { error: { type: "authentication_error", code: "missing_credentials", message: "Signed out: sign in again." } });
  try {
    return await send(method, path, body, access.token);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && err.code === "token_expired" && (await refresh())) {
      return send(method, path, body, access.token);
    }
    throw err;
  }
}

// callSigned sends a request authenticated by its headers alone (a
// wallet's signature of a decision), without the access token.
export function callSigned(method, path, body, headers) {
  return send(method, path, body, null, headers);
}

export async function login(email, password) {
  remember(await send("POST", "/v1/auth/login", { email, password }));
}

export async function signup(email, password) {
  await send("POST", "/v1/auth/signup", { email, password });
  await login(email, password);
}

// signInWithWallet runs Sign-In with Ethereum through an injected EIP-1193
// provider (MetaMask, Coinbase Wallet, Rabby): the server's challenge
// message, signed with personal_sign.
export async function signInWithWallet(provider) {
  const accounts = await provider.request({ method: "eth_requestAccounts" });
  const address = accounts?.[0];
  if (!address) throw new Error("The wallet shared no address.");
  const challenge = await send("POST", "/v1/auth/siwe/challenge", { address });
  const bytes = new TextEncoder().encode(challenge.message);
  const hex = "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const signature = await provider.request({ method: "personal_sign", params: [hex, address] });
  remember(await send("POST", "/v1/auth/siwe/login", { message: challenge.message, signature }));
}

export async function logout() {
  const token = sessionStorage.getItem(REFRESH_KEY);
  try {
    if (token && access) await send("POST", "/v1/auth/logout", { refreshToken: token }, access.token);
  } finally {
    forget();
  }
}
