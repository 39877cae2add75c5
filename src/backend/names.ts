// The backend names alone, without TensorFlow.js: the CLI lists them in its help without loading tfjs.

/** The TensorFlow.js backends in the order `auto` tries them. */
export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
/** The TensorFlow.js backends ser can train and predict on. */
export type BackendName = (typeof BACKENDS)[number];
/** A backend by name, or auto for the first that loads. */
export type BackendChoice = BackendName | 'auto';
