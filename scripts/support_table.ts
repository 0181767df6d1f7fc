// Writes docs/support.md, the op × backend table: `deno task support-table`.

import { supportTable } from "../tests/conformance/support_table.ts";

const path = new URL("../docs/support.md", import.meta.url);
await Deno.writeTextFile(path, supportTable());
console.log(`wrote ${path.pathname}`);
