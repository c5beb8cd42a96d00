import { describe, expect, it, vi } from "vitest";

import { expiresWithin, Session, SESSION_ENDED_NOTICE, type RefreshCall, type RefreshTokenStore, type SessionUser } from "./session";

const user: SessionUser = { id: "u1", name: "Ada", email: "ada@example.com", role: "CUSTOMER" };

function memoryStore(initial: string | null = null): RefreshTokenStore & { value: string | null } {
  const store = {
    value: initial,
    read: () => store.value,
    write: (token: string | null) => {
      store.value = token;
    },
  };
  return store;
}

/** An API whose refresh tokens rotate: each is good once. */
function rotatingApi(): { call: RefreshCall; calls: string[] } {
  const spent = new Set<string>();
  const calls: string[] = [];
  let n = 0;
  const call: RefreshCall = (token) => {
    calls.push(token);
    if (spent.has(token)) return Promise.resolve({ kind: "rejected" });
    spent.add(token);
    n += 1;
    return Promise.resolve({ kind: "refreshed", accessToken: `access-${n}`, refreshToken: `refresh-${n}`, user });
  };
  return { call, calls };
}

/** A fake /graphql: 401 unless the request carries `valid`'s current token. */
function fakeFetch(valid: { token: string }) {
  const seen: (string | null)[] = [];
  const fetchImpl = vi.fn((_input: RequestInfo | URL, init?: RequestInit) => {
    const auth = new Headers(init?.headers).get("authorization");
    seen.push(auth);
    return Promise.resolve(new Response("{}", { status: auth === `Bearer ${valid.token}` ? 200 : 401 }));
  });
  return { fetchImpl, seen };
}

describe("Session", () => {
  it("refreshes once and retries a request whose access token expired", async () => {
    const api = rotatingApi();
    const session = new Session(memoryStore(), api.call);
    session.signIn("expired", "refresh-0", user);
    const valid = { token: "access-1" };
    const { fetchImpl, seen } = fakeFetch(valid);

    const response = await session.fetchWithAuth("/graphql", { method: "POST", body: "{}" }, fetchImpl);

    expect(response.status).toBe(200);
    expect(seen).toEqual(["Bearer expired", "Bearer access-1"]);
    expect(api.calls).toEqual(["refresh-0"]);
    expect(session.snapshot().user).toEqual(user);
  });

  it("refreshes when a subgraph answers UNAUTHENTICATED inside a 200", async () => {
    const api = rotatingApi();
    const session = new Session(memoryStore(), api.call);
    session.signIn("expired", "refresh-0", user);
    const seen: (string | null)[] = [];
    const fetchImpl = (_input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const auth = new Headers(init?.headers).get("authorization");
      seen.push(auth);
      const body =
        auth === "Bearer access-1"
          ? { data: { cart: { items: [] } } }
          : { data: null, errors: [{ message: "expired", extensions: { code: "UNAUTHENTICATED" } }] };
      return Promise.resolve(Response.json(body));
    };

    const response = await session.fetchWithAuth("/graphql", {}, fetchImpl);

    expect(await response.json()).toEqual({ data: { cart: { items: [] } } });
    expect(seen).toEqual(["Bearer expired", "Bearer access-1"]);
  });

  it("does not refresh for other errors", async () => {
    const api = rotatingApi();
    const session = new Session(memoryStore(), api.call);
    session.signIn("valid", "refresh-0", user);
    const fetchImpl = (): Promise<Response> =>
      Promise.resolve(Response.json({ errors: [{ message: "no", extensions: { code: "FORBIDDEN" } }] }));

    await session.fetchWithAuth("/graphql", {}, fetchImpl);

    expect(api.calls).toEqual([]);
  });

  it("shares one refresh between concurrent requests that all got a 401", async () => {
    const api = rotatingApi();
    const store = memoryStore();
    const session = new Session(store, api.call);
    session.signIn("expired", "refresh-0", user);
    const { fetchImpl } = fakeFetch({ token: "access-1" });

    const statuses = await Promise.all(
      [1, 2, 3, 4].map(async () => (await session.fetchWithAuth("/graphql", {}, fetchImpl)).status),
    );

    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(api.calls).toEqual(["refresh-0"]);
    expect(store.value).toBe("refresh-1");
  });

  it("does not retry more than once when the new token is refused too", async () => {
    const api = rotatingApi();
    const session = new Session(memoryStore(), api.call);
    session.signIn("expired", "refresh-0", user);
    const { fetchImpl, seen } = fakeFetch({ token: "never" });

    const response = await session.fetchWithAuth("/graphql", {}, fetchImpl);

    expect(response.status).toBe(401);
    expect(seen).toHaveLength(2);
  });

  it("signs out with a clear notice when the refresh token was already used", async () => {
    const api = rotatingApi();
    await api.call("refresh-0"); // spent elsewhere (a stolen copy, another device)
    const store = memoryStore();
    const session = new Session(store, api.call);
    session.signIn("expired", "refresh-0", user);
    const { fetchImpl } = fakeFetch({ token: "access-2" });

    const response = await session.fetchWithAuth("/graphql", {}, fetchImpl);

    expect(response.status).toBe(401);
    expect(session.snapshot()).toMatchObject({ user: null, notice: SESSION_ENDED_NOTICE });
    expect(session.token).toBeNull();
    expect(store.value).toBeNull();
  });

  it("keeps the session when the API could not be reached", async () => {
    const session = new Session(memoryStore(), () => Promise.resolve({ kind: "unavailable" }));
    session.signIn("expired", "refresh-0", user);

    expect(await session.refresh()).toBe(false);
    expect(session.snapshot().user).toEqual(user);
  });

  it("sends anonymous requests without a token and never refreshes for them", async () => {
    const api = rotatingApi();
    const session = new Session(memoryStore(), api.call);
    const { fetchImpl, seen } = fakeFetch({ token: "x" });

    await session.fetchWithAuth("/graphql", {}, fetchImpl);

    expect(seen).toEqual([null]);
    expect(api.calls).toEqual([]);
  });

  it("resumes a stored session at start, and keeps the access token out of storage", async () => {
    const api = rotatingApi();
    const store = memoryStore("refresh-0");
    const session = new Session(store, api.call);

    await session.resume();

    expect(session.snapshot()).toMatchObject({ user, ready: true });
    expect(session.token).toBe("access-1");
    expect(store.value).toBe("refresh-1");
  });

  it("serialises refreshes through the cross-tab lock", async () => {
    const api = rotatingApi();
    const order: string[] = [];
    const lock = async <T,>(task: () => Promise<T>): Promise<T> => {
      order.push("locked");
      const value = await task();
      order.push("released");
      return value;
    };
    const session = new Session(memoryStore("refresh-0"), api.call, lock);

    await session.refresh();

    expect(order).toEqual(["locked", "released"]);
  });
});

describe("expiresWithin", () => {
  const jwt = (exp: number): string => `h.${btoa(JSON.stringify({ exp })).replace(/=+$/, "")}.s`;
  it("reads the exp claim", () => {
    const now = 1_000_000_000_000;
    expect(expiresWithin(jwt(now / 1000 + 60), 15, now)).toBe(false);
    expect(expiresWithin(jwt(now / 1000 + 10), 15, now)).toBe(true);
    expect(expiresWithin("garbage", 15, now)).toBe(true);
  });
});
