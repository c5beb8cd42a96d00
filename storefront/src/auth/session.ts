// The signed-in session: who is signed in, the access token (in memory only, never stored),
// and the refresh token (in the RefreshTokenStore: localStorage in the browser, see README).
//
// Guarantees:
// - A request refused for its credentials after presenting an access token (HTTP 401 from the
//   router, or an UNAUTHENTICATED error from a subgraph, whose clock leeway is shorter than
//   the router's) is retried once, after one refresh; concurrent 401s share that refresh (single flight in the tab, and a
//   Web Lock across tabs so two tabs never spend the same rotating refresh token).
// - A refresh token the API refuses (already used, expired or revoked) signs the shopper out
//   with a notice saying so; a refresh that could not reach the API keeps the session.
import type { Role } from "../gql/graphql";

export interface SessionUser {
  id: string;
  name: string;
  email: string;
  role: Role;
}

export interface RefreshTokenStore {
  read(): string | null;
  write(token: string | null): void;
}

export type RefreshOutcome =
  | { kind: "refreshed"; accessToken: string; refreshToken: string; user: SessionUser }
  | { kind: "rejected" }
  | { kind: "unavailable" };

export type RefreshCall = (refreshToken: string) => Promise<RefreshOutcome>;

/** Runs `task` while holding the cross-tab refresh lock. */
export type RefreshLock = <T>(task: () => Promise<T>) => Promise<T>;

export interface SessionSnapshot {
  user: SessionUser | null;
  /** Why the shopper was signed out, shown until the next sign-in. */
  notice: string | null;
  /** False until the first attempt to resume a stored session has finished. */
  ready: boolean;
}

export const SESSION_ENDED_NOTICE =
  "You have been signed out: your session ended (it was used elsewhere or expired). Please sign in again.";

type FetchLike = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

const runUnlocked: RefreshLock = (task) => task();

export class Session {
  private accessToken: string | null = null;
  private state: SessionSnapshot = { user: null, notice: null, ready: false };
  private inFlight: Promise<boolean> | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly store: RefreshTokenStore;
  private readonly refreshCall: RefreshCall;
  private readonly lock: RefreshLock;

  constructor(store: RefreshTokenStore, refreshCall: RefreshCall, lock: RefreshLock = runUnlocked) {
    this.store = store;
    this.refreshCall = refreshCall;
    this.lock = lock;
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly snapshot = (): SessionSnapshot => this.state;

  get token(): string | null {
    return this.accessToken;
  }

  /** Resumes a stored session (a refresh), once at start. */
  async resume(): Promise<void> {
    if (this.store.read() !== null) await this.refresh();
    this.update({ ready: true });
  }

  signIn(accessToken: string, refreshToken: string, user: SessionUser): void {
    this.accessToken = accessToken;
    this.store.write(refreshToken);
    this.update({ user, notice: null, ready: true });
  }

  /** Forgets the session here; returns the refresh token so the caller can end it at the API. */
  signOut(notice: string | null = null): string | null {
    const refreshToken = this.store.read();
    this.accessToken = null;
    this.store.write(null);
    this.update({ user: null, notice });
    return refreshToken;
  }

  /** Spends the refresh token for a new access token; false when there is no session now. */
  refresh(): Promise<boolean> {
    this.inFlight ??= this.lock(() => this.refreshNow()).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** An access token that will not expire within `marginSeconds`, refreshing if needed. */
  async freshToken(marginSeconds = 15): Promise<string | null> {
    const token = this.accessToken;
    if (token !== null && !expiresWithin(token, marginSeconds)) return token;
    if (this.store.read() === null) return null;
    await this.refresh();
    return this.accessToken;
  }

  /** `fetch` with the access token; one refresh and one retry when the token is refused. */
  async fetchWithAuth(input: RequestInfo | URL, init: RequestInit | undefined, fetchImpl: FetchLike): Promise<Response> {
    const presetHeaders = new Headers(init?.headers);
    if (presetHeaders.has("authorization")) return fetchImpl(input, init);
    const sent = this.accessToken;
    const first = await fetchImpl(input, withToken(init, sent));
    if (sent === null || !(await isRefusedCredential(first))) return first;
    // Another request may have refreshed while this one was on its way.
    const renewed = this.accessToken !== null && this.accessToken !== sent ? true : await this.refresh();
    if (!renewed || this.accessToken === null) return first;
    return fetchImpl(input, withToken(init, this.accessToken));
  }

  private async refreshNow(): Promise<boolean> {
    // Read inside the lock: another tab may have rotated the token meanwhile.
    const refreshToken = this.store.read();
    if (refreshToken === null) {
      if (this.state.user !== null) this.signOut(SESSION_ENDED_NOTICE);
      return false;
    }
    const outcome = await this.refreshCall(refreshToken);
    switch (outcome.kind) {
      case "refreshed":
        this.accessToken = outcome.accessToken;
        this.store.write(outcome.refreshToken);
        this.update({ user: outcome.user, notice: null });
        return true;
      case "rejected":
        this.signOut(SESSION_ENDED_NOTICE);
        return false;
      case "unavailable":
        return false;
    }
  }

  private update(change: Partial<SessionSnapshot>): void {
    this.state = { ...this.state, ...change };
    for (const listener of this.listeners) listener();
  }
}

/** HTTP 401, or a GraphQL answer whose errors say UNAUTHENTICATED. */
async function isRefusedCredential(response: Response): Promise<boolean> {
  if (response.status === 401) return true;
  if (!(response.headers.get("content-type") ?? "").includes("json")) return false;
  try {
    const body: unknown = await response.clone().json();
    if (typeof body !== "object" || body === null || !("errors" in body) || !Array.isArray(body.errors)) return false;
    return body.errors.some(
      (error: unknown) =>
        typeof error === "object" &&
        error !== null &&
        "extensions" in error &&
        typeof error.extensions === "object" &&
        error.extensions !== null &&
        "code" in error.extensions &&
        error.extensions.code === "UNAUTHENTICATED",
    );
  } catch {
    return false;
  }
}

function withToken(init: RequestInit | undefined, token: string | null): RequestInit {
  const headers = new Headers(init?.headers);
  if (token === null) headers.delete("authorization");
  else headers.set("authorization", `Bearer ${token}`);
  return { ...init, headers };
}

/** Whether a JWT's `exp` is within `seconds` from now (or unreadable). Not a verification. */
export function expiresWithin(token: string, seconds: number, now: number = Date.now()): boolean {
  const payload = token.split(".")[1];
  if (payload === undefined) return true;
  try {
    const json: unknown = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    if (typeof json !== "object" || json === null || !("exp" in json) || typeof json.exp !== "number") return true;
    return json.exp * 1000 - now < seconds * 1000;
  } catch {
    return true;
  }
}

/** The browser's store: localStorage (see README, "Where the refresh token lives"). */
export const localRefreshTokenStore: RefreshTokenStore = {
  read: () => {
    try {
      return localStorage.getItem(REFRESH_TOKEN_KEY);
    } catch {
      return null;
    }
  },
  write: (token) => {
    try {
      if (token === null) localStorage.removeItem(REFRESH_TOKEN_KEY);
      else localStorage.setItem(REFRESH_TOKEN_KEY, token);
    } catch {
      // Storage disabled: the session lasts as long as the page.
    }
  },
};

const REFRESH_TOKEN_KEY = "emporium.refreshToken";

/** The Web Locks API serialises refreshes across this origin's tabs, where it exists. */
export const crossTabLock: RefreshLock = (task) => {
  if (!("locks" in navigator)) return task();
  return new Promise((resolve, reject) => {
    void navigator.locks.request("emporium.refresh", () => task().then(resolve, reject));
  });
};
