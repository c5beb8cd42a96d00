// Entry: the session (resumed from a stored refresh token), then the app.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./App";
import { refreshWithApi } from "./api/client";
import { crossTabLock, localRefreshTokenStore, Session } from "./auth/session";
import { SessionProvider } from "./auth/SessionContext";
import "./styles.css";

const session = new Session(localRefreshTokenStore, refreshWithApi, crossTabLock);
void session.resume();

const root = document.getElementById("root");
if (root === null) throw new Error("index.html has no #root");
createRoot(root).render(
  <StrictMode>
    <SessionProvider session={session}>
      <App />
    </SessionProvider>
  </StrictMode>,
);
