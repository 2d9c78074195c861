import assert from "node:assert/strict";
import { envFlag } from "./env.ts";

Deno.test("envFlag() is on for any value but empty, 0 and false, off when unset", () => {
  const name = "GAN_ENV_TEST_FLAG";
  try {
    Deno.env.delete(name);
    assert.equal(envFlag(name), false);
    for (const v of ["1", "yes", "true", "on"]) {
      Deno.env.set(name, v);
      assert.equal(envFlag(name), true, v);
    }
    for (const v of ["", "0", "false", "FALSE", "False"]) {
      Deno.env.set(name, v);
      assert.equal(envFlag(name), false, JSON.stringify(v));
    }
  } finally {
    Deno.env.delete(name);
  }
});
