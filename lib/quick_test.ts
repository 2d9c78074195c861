import assert from "node:assert/strict";
import { QUICK, quick, QUICK_ENV } from "./quick.ts";

Deno.test("quick() picks the small value exactly when GAN_QUICK is set", () => {
  const v = Deno.env.get(QUICK_ENV);
  const on = v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
  assert.equal(QUICK, on);
  assert.equal(quick(60_000, 2_000), on ? 2_000 : 60_000);
});

Deno.test("QUICK follows the environment of a fresh process", async () => {
  for (const [value, expected] of [["1", "true"], ["0", "false"], ["", "false"]]) {
    const out = await new Deno.Command("deno", {
      args: [
        "eval",
        `import { QUICK } from "${new URL("./quick.ts", import.meta.url)}"; console.log(QUICK)`,
      ],
      env: { [QUICK_ENV]: value },
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout).trim(), expected);
  }
});
