export { DEBIAN_PYTHON, hasPythonModule, requirePythonModule, runPython } from './python.ts';
