// docs/support.md is what the fixtures and ignore lists say today.

import assert from "node:assert/strict";
import { supportTable } from "./conformance/support_table.ts";

Deno.test("docs/support.md is up to date (regenerate with `deno task support-table`)", async () => {
  const committed = await Deno.readTextFile(new URL("../docs/support.md", import.meta.url));
  assert.equal(committed, supportTable());
});
