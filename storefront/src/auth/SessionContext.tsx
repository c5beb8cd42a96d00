// The session for React: components read who is signed in and sign in or out through here.
import { createContext, use, useSyncExternalStore, type ReactNode } from "react";

import type { Session, SessionSnapshot } from "./session";

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ session, children }: { session: Session; children: ReactNode }): ReactNode {
  return <SessionContext value={session}>{children}</SessionContext>;
}

export function useSession(): Session {
  const session = use(SessionContext);
  if (session === null) throw new Error("useSession outside SessionProvider");
  return session;
}

export function useSessionState(): SessionSnapshot {
  const session = useSession();
  return useSyncExternalStore(session.subscribe, session.snapshot);
}
