/**
 * `mgsd doctor`: is this machine ready to run mgsd, and if not, what exactly to install.
 *
 * Checks Node, the CPUs (count and a quick speed probe), the Python interpreter and the packages
 * of requirements.txt (versions compared with the pins), torch's compute devices, and the bridge
 * itself (a real worker: ping, echo a tensor, stop). The Python environment is inspected through
 * `pythonia` (interactive, low-volume calls; never tensors): `PYTHON_BIN` is set before pythonia
 * is imported (it spawns Python at import), and `python.exit()` always runs, or Node would hang.
 * Every check returns a status and, when not ok, the command that fixes it.
 */
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { BackendClient } from './client.js';
import { tensor } from './codec.js';
import { type Interpreter, PROJECT_ROOT, resolveInterpreter } from './interpreter.js';

/** ok; warn (works, but not as pinned or not ideal); fail (mgsd cannot run as is). */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the doctor's report. */
export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to run or change when the status is not ok. */
  fix?: string;
  /** A missing Python package as a pip requirement (`torch==2.15.0`). */
  requirement?: string;
}

/** What to check. */
export interface DoctorOptions {
  /** Interpreter (config `backend.python`); null = `$MGSD_PYTHON`, else `.venv`. */
  python?: string | null;
  /** Skip the bridge self-test (it starts a worker: a few seconds). */
  skipBridge?: boolean;
}

const MIN_NODE = [20, 11] as const;
/** requirements.txt distribution name → what the package is for, in the report. */
const PURPOSE: Record<string, string> = {
  torch: 'models',
  transformers: 'Qwen3-VL',
  peft: 'LoRA',
  safetensors: 'checkpoints',
  pyarrow: 'wire tensors',
  pyzmq: 'bridge socket',
  numpy: 'arrays',
  pillow: 'images',
};

/** The checks, and the one command that fixes the failures (undefined when nothing failed). */
export interface DoctorReport {
  checks: Check[];
  fix: string | undefined;
}

/** Runs every check; never throws for an environment problem (that is a `fail` line). */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const checks: Check[] = [checkNode(), checkCpus()];
  let interpreter: Interpreter;
  try {
    interpreter = resolveInterpreter(options.python);
  } catch (error) {
    const hint = (error as { hint?: string }).hint ?? 'npm run setup';
    return { checks: [...checks, { name: 'python', status: 'fail', detail: (error as Error).message, fix: hint }], fix: hint };
  }
  const python = await inspectPython(interpreter);
  checks.push(...python);
  const hasFailures = python.some((check) => check.status === 'fail');
  if (!options.skipBridge) {
    checks.push(hasFailures ? { name: 'bridge', status: 'fail', detail: 'skipped: fix the Python checks above first' } : await checkBridge(interpreter));
  }
  return { checks, fix: combinedFix(checks, interpreter.path) };
}

/** Missing packages → one pip line for all of them; otherwise the first failure's fix. */
function combinedFix(checks: Check[], python: string): string | undefined {
  const failed = checks.filter((check) => check.status === 'fail');
  const missing = failed.flatMap((check) => (check.requirement ? [`'${check.requirement}'`] : []));
  if (missing.length > 0) return `${python} -m pip install ${missing.join(' ')}  (or: npm run setup)`;
  return failed.find((check) => check.fix)?.fix;
}

/** The pins of requirements.txt (`name==version` lines), by distribution name. */
export function readPins(path = join(PROJECT_ROOT, 'requirements.txt')): Map<string, string> {
  const pins = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)/.exec(line);
    if (match) pins.set(match[1]!.toLowerCase(), match[2]!);
  }
  return pins;
}

/** Compares an installed version with a pin, ignoring a local build tag (`2.15.0+cu132`). */
export function checkPackage(name: string, installed: string | undefined, pin: string | undefined, pip: string): Check {
  const purpose = PURPOSE[name] ? ` (${PURPOSE[name]})` : '';
  if (installed === undefined) {
    const requirement = pin ? `${name}==${pin}` : name;
    return { name: `python: ${name}`, status: 'fail', detail: `not installed${purpose}`, fix: `${pip} '${requirement}'`, requirement };
  }
  if (pin !== undefined && installed.split('+')[0] !== pin) {
    return {
      name: `python: ${name}`,
      status: 'warn',
      detail: `${installed} installed, requirements.txt pins ${pin}${purpose}`,
      fix: `${pip} '${name}==${pin}'  (a different version may work; results are only reproducible with the pin)`,
    };
  }
  return { name: `python: ${name}`, status: 'ok', detail: `${installed}${purpose}` };
}

function checkNode(): Check {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const ok = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  const detail = `v${process.versions.node} (mgsd needs >= ${MIN_NODE.join('.')})`;
  return ok ? { name: 'node', status: 'ok', detail } : { name: 'node', status: 'fail', detail, fix: 'Install Node 20.11 or newer (https://nodejs.org).' };
}

function checkCpus(): Check {
  const count = availableParallelism();
  const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  // A fixed scalar workload: comparable between machines, ~50-200 ms.
  const started = performance.now();
  let acc = 0;
  for (let i = 1; i <= 20_000_000; i += 1) acc += Math.sqrt(i) * 1e-9;
  const seconds = (performance.now() - started) / 1000;
  const detail = `${count} core(s), ${model}; scalar probe ${(20 / seconds).toFixed(0)} M sqrt/s (checksum ${acc.toFixed(1)})`;
  if (count < 2) return { name: 'cpu', status: 'warn', detail, fix: 'One core: the student and teacher workers cannot overlap; expect slower runs.' };
  return { name: 'cpu', status: 'ok', detail };
}

async function inspectPython(interpreter: Interpreter): Promise<Check[]> {
  const pip = `${interpreter.path} -m pip install`;
  process.env.PYTHON_BIN = interpreter.path;
  const { python, py } = await import('pythonia');
  try {
    const platform = await python('platform');
    const version = String(await platform.python_version());
    const checks: Check[] = [{ name: 'python', status: 'ok', detail: `${version} at ${interpreter.path} (from ${interpreter.source})` }];
    const metadata = await python('importlib.metadata');
    const pins = readPins();
    for (const name of Object.keys(PURPOSE)) {
      const installed = await metadata.version(name).then(String, () => undefined);
      checks.push(checkPackage(name, installed, pins.get(name), pip));
    }
    if (checks.some((check) => check.name === 'python: torch' && check.status === 'fail')) return checks;
    checks.push(await checkTorch(python, py));
    return checks;
  } catch (error) {
    return [{ name: 'python', status: 'fail', detail: `cannot inspect ${interpreter.path}: ${(error as Error).message}`, fix: 'npm run setup' }];
  } finally {
    python.exit();
  }
}

type Pythonia = typeof import('pythonia');

async function checkTorch(python: Pythonia['python'], py: Pythonia['py']): Promise<Check> {
  const torch = await python('torch');
  const threads = Number(await torch.get_num_threads());
  // Warm up once, then time 20 float32 matmuls of 256×256 (2·256³ flops each).
  const probe = "(lambda a, t: (a @ a, t.timeit(lambda: a @ a, number=20))[1])(__import__('torch').randn(256, 256), __import__('timeit'))";
  const seconds = Number(await py([probe]));
  const gflops = (20 * 2 * 256 ** 3) / seconds / 1e9;
  const devices: string[] = ['cpu'];
  if (await torch.cuda.is_available()) {
    const count = Number(await torch.cuda.device_count());
    for (let i = 0; i < count; i += 1) devices.push(`cuda:${i} ${String(await torch.cuda.get_device_name(i))}`);
  }
  const detail = `matmul ${gflops.toFixed(1)} GFLOP/s on ${threads} thread(s); devices: ${devices.join(', ')}`;
  return { name: 'torch devices', status: 'ok', detail };
}

async function checkBridge(interpreter: Interpreter): Promise<Check> {
  const logDir = mkdtempSync(join(tmpdir(), 'mgsd-doctor-'));
  let client: BackendClient | undefined;
  try {
    client = await BackendClient.start({
      workers: { doctor: { threads: 1 } },
      logDir,
      python: interpreter.path,
      startTimeoutMs: 120_000,
      requestTimeoutMs: 30_000,
    });
    const worker = client.worker('doctor');
    const rtts: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      const started = performance.now();
      await worker.ping();
      rtts.push(performance.now() - started);
    }
    const sent = tensor('float32', [4, 256], Float32Array.from({ length: 1024 }, (_, i) => i / 3));
    const echoed = (await worker.echo({ doctor: true }, { x: sent })).tensors.x;
    const same = echoed !== undefined && echoed.data.length === sent.data.length && sent.data.every((v, i) => echoed.data[i] === v);
    const modelOps = worker.hello.model_ops ? 'model ops ready' : `model ops unavailable: ${worker.hello.model_ops_error}`;
    await client.close();
    client = undefined;
    rtts.sort((a, b) => a - b);
    const detail = `ping p50 ${rtts[10]!.toFixed(2)} ms; echo of a float32 [4, 256] tensor ${same ? 'identical' : 'DIFFERENT'}; ${modelOps}`;
    if (!same) return { name: 'bridge', status: 'fail', detail, fix: 'The two sides disagree on the wire format: run `npm test` (golden wire files).' };
    rmSync(logDir, { recursive: true, force: true });
    return worker.hello.model_ops ? { name: 'bridge', status: 'ok', detail } : { name: 'bridge', status: 'fail', detail, fix: 'npm run setup' };
  } catch (error) {
    await client?.close();
    return { name: 'bridge', status: 'fail', detail: (error as Error).message, fix: (error as { hint?: string }).hint ?? `see the logs in ${logDir}` };
  }
}
