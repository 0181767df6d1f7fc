// The PyTorch conformance suite on tfjs's CPU backend, in a test module of
// its own: see _conformance.ts for why each tfjs backend gets one.

import "./_testing.ts";
import { conformanceSuite } from "./_conformance.ts";

/** Cases tfjs-cpu cannot serve, with the reason (none today). */
const IGNORED: Record<string, string> = {};

conformanceSuite("cpu", IGNORED);
