/**
 * The registry of tasks: `EnvName` → its `EnvSpec` and `EnvPrompts`. The only switch on the
 * environment name in the project; everything else asks `getEnv(name)`.
 */
import { EnvError } from '../errors.js';
import { ENV_ERROR_CODES } from './core/checks.js';
import { frozenLakePrompts, frozenLakeSpec } from './frozenlake/index.js';
import { mazePrompts, mazeSpec } from './maze/index.js';
import { miniBehaviourPrompts, miniBehaviourSpec } from './minibehaviour/index.js';
import type { EnvName, EnvPrompts, EnvSpec, InstanceOf } from './types.js';
import { ENV_NAMES } from './types.js';

/** One task's functions and prompts. */
export interface EnvEntry<N extends EnvName = EnvName> {
  spec: EnvSpec<InstanceOf<N>>;
  prompts: EnvPrompts<InstanceOf<N>>;
}

const REGISTRY: { [N in EnvName]: EnvEntry<N> } = {
  frozenlake: { spec: frozenLakeSpec, prompts: frozenLakePrompts },
  maze: { spec: mazeSpec, prompts: mazePrompts },
  minibehaviour: { spec: miniBehaviourSpec, prompts: miniBehaviourPrompts },
};

/** The spec and prompts of task `name`; throws `EnvError` for an unknown name. */
export function getEnv<N extends EnvName>(name: N): EnvEntry<N> {
  const entry = (REGISTRY as unknown as Record<string, EnvEntry<N> | undefined>)[name];
  if (entry === undefined) {
    throw new EnvError(ENV_ERROR_CODES.unknownTask, `unknown task ${JSON.stringify(name)}; expected one of ${ENV_NAMES.join(', ')}.`, {
      hint: 'Spell the task in lower case as in ENV_NAMES.',
      context: { task: name },
    });
  }
  return entry;
}
