// The urql clients: one for the shopper (the access token on every request, one refresh and
// retry on a 401, subscriptions over graphql-ws on the same /graphql path) and a bare one that
// only spends refresh tokens (it must not itself go through the refresh logic).
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from "@urql/core";
import { createClient as createWsClient } from "graphql-ws";

import type { RefreshCall, Session } from "../auth/session";
import { RefreshDocument } from "./operations";

const GRAPHQL_PATH = "/graphql";

function webSocketUrl(): string {
  const url = new URL(GRAPHQL_PATH, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

export function createApiClient(session: Session): Client {
  const ws = createWsClient({
    url: webSocketUrl(),
    lazy: true,
    retryAttempts: 20,
    // The token is read (and refreshed when about to expire) at every (re)connection.
    connectionParams: async () => {
      const token = await session.freshToken();
      return token === null ? {} : { authorization: `Bearer ${token}` };
    },
  });
  return new Client({
    url: GRAPHQL_PATH,
    fetch: (input, init) => session.fetchWithAuth(input, init, (i, n) => fetch(i, n)),
    requestPolicy: "cache-and-network",
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const operation = { ...request, query: request.query ?? "" };
          return {
            subscribe(sink) {
              return { unsubscribe: ws.subscribe(operation, sink) };
            },
          };
        },
      }),
    ],
  });
}

const refreshClient = new Client({ url: GRAPHQL_PATH, exchanges: [fetchExchange], requestPolicy: "network-only" });

export const refreshWithApi: RefreshCall = async (refreshToken) => {
  const result = await refreshClient.mutation(RefreshDocument, { refreshToken }).toPromise();
  const payload = result.data?.refreshToken;
  if (payload === undefined) return { kind: "unavailable" };
  const { accessToken, refreshToken: next, user } = payload;
  if (accessToken && next && user) return { kind: "refreshed", accessToken, refreshToken: next, user };
  return { kind: "rejected" };
};
