/**
 * The measuring scripts end to end, in quick mode: `batch-sweep` writes one line of
 * quality per epoch, and `face-epoch` stopped with Ctrl-C resumes from its checkpoint
 * to the same result as an uninterrupted run (and refuses it with other options), its faces
 * drawn by worker threads or not.
 */
import assert from "node:assert/strict";

const decoder = new TextDecoder();
const env = { GAN_QUICK: "1", NO_COLOR: "1" };

function deno(args: string[]) {
  return new Deno.Command("deno", {
    args: ["run", "--allow-read", "--allow-write=data,out", "--allow-env", ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("batch-sweep writes epoch, time and quality for each epoch", async () => {
  const out = "out/test_batch_sweep.jsonl";
  await Deno.remove(out).catch(() => {});
  const args = ["scripts/batch_sweep.ts", "--batch", "32", "--lr", "0.001", "--beta1", "0.5"];
  args.push("--lr-end", "0.0001");
  const res = await deno([...args, "--epochs", "2", "--limit", "320", "--out", out]).output();
  assert.equal(res.code, 0, decoder.decode(res.stderr));
  const lines = (await Deno.readTextFile(out)).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.epoch), [1, 2]);
  assert.ok(lines[1].trainSeconds >= lines[0].trainSeconds && lines[0].trainSeconds > 0);
  for (const l of lines) {
    assert.equal(l.batchSize, 32);
    assert.equal(l.lrEnd, 0.0001);
    assert.ok(l.digits >= 1 && l.digits <= 10);
    assert.ok(l.score >= 1 && l.score <= 10 && Number.isFinite(l.fid));
  }
  const bad = await deno(["scripts/batch_sweep.ts", "--lr", "0"]).output();
  assert.notEqual(bad.code, 0);
  assert.match(decoder.decode(bad.stderr), /--lr must be a positive number/);
});

async function summary(dir: string) {
  return JSON.parse(await Deno.readTextFile(`${dir}/summary.json`));
}

Deno.test("face-epoch refuses a bad option, naming it, before any work", async () => {
  for (
    const [arg, message] of [
      ["--workers=-1", /--workers must be a whole number, got "-1"/],
      ["--kind=dcgan", /--kind must be fc, conv or gelu, got "dcgan"/],
      ["--bogus", /Unknown option '--bogus'/],
    ] as const
  ) {
    const res = await deno(["scripts/face_epoch.ts", arg, "--out", "out/test_face_epoch_bad"])
      .output();
    assert.equal(res.code, 2, arg);
    assert.match(decoder.decode(res.stderr), message);
    assert.match(decoder.decode(res.stderr), /Usage: deno task face-epoch/);
  }
  await assert.rejects(() => Deno.stat("out/test_face_epoch_bad"), Deno.errors.NotFound);
});

Deno.test("face-epoch stopped by Ctrl-C resumes to the uninterrupted result", async () => {
  const [a, b] = ["out/test_face_epoch_a", "out/test_face_epoch_b"];
  for (const d of [a, b]) await Deno.remove(d, { recursive: true }).catch(() => {});
  const args = (
    out: string,
  ) => ["scripts/face_epoch.ts", "--kind", "fc", "--count", "12", "--out", out];
  const straight = await deno([...args(a), "--save-every", "0"]).output();
  assert.equal(straight.code, 0, decoder.decode(straight.stderr));

  // Stop the second run once its bar shows a few images done. Its faces come from worker
  // threads (the GPU default), which must give the same faces and let Ctrl-C end the run.
  const child = deno([...args(b), "--save-every", "2", "--workers", "2"]).spawn();
  const stdout = new Response(child.stdout).text();
  let text = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  while (!/\b([3-9]|1[01])\/12\b/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  child.kill("SIGINT");
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
  const { code } = await child.status;
  assert.equal(code, 130, text);
  const at = Number(/Stopped after (\d+) of 12/.exec(await stdout)?.[1]);
  assert.ok(at >= 3 && at < 12, `stopped at ${at}`);
  assert.ok((await Deno.stat(`${b}/checkpoint.ckpt`)).size > 0);

  // Other options are refused, naming the difference and the fix; the checkpoint is kept.
  const other = await deno([...args(b), "--save-every", "2", "--seed", "7"]).output();
  assert.equal(other.code, 1);
  assert.match(decoder.decode(other.stderr), /seed 42 \(this run: 7\).*--seed 42.*--fresh/);

  const resumed = await deno([...args(b), "--save-every", "2"]).output();
  assert.equal(resumed.code, 0, decoder.decode(resumed.stderr));
  assert.match(decoder.decode(resumed.stdout), new RegExp(`Resuming from .*: ${at} of 12`));
  const [s1, s2] = [await summary(a), await summary(b)];
  assert.equal(s2.resumedAt, at);
  assert.equal(s2.lastLossD, s1.lastLossD);
  assert.equal(s2.lastLossG, s1.lastLossG);
  // Complete: the checkpoint is gone, so a rerun starts afresh.
  await assert.rejects(() => Deno.stat(`${b}/checkpoint.ckpt`), Deno.errors.NotFound);
});
