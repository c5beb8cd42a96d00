import { describe, expect, it } from "vitest";

import { mergeTimeline } from "./orderTimeline";

describe("order timeline", () => {
  it("merges the order's history and live events without duplicates, newest last", () => {
    const history = [
      { status: "PENDING" as const, at: "2026-11-30T10:00:00Z" },
      { status: "CONFIRMED" as const, at: "2026-11-30T10:00:01.500Z" },
    ];
    const live = [
      { status: "CONFIRMED" as const, at: "2026-11-30T10:00:01.5Z" },
      { status: "SHIPPED" as const, at: "2026-11-30T10:05:00Z" },
    ];
    expect(mergeTimeline(history, live).map((e) => e.status)).toEqual(["PENDING", "CONFIRMED", "SHIPPED"]);
  });

  it("takes a live event that arrived before the order was read", () => {
    const live = [{ status: "PENDING" as const, at: "2026-11-30T10:00:00Z" }];
    expect(mergeTimeline([], live).map((e) => e.status)).toEqual(["PENDING"]);
  });
});
