/**
 * The bench scripts' command lines: node:util parseArgs (unknown flags are
 * refused) plus -h/--help, which prints the script's usage and exits.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

type Values<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<{ options: O }>>['values'];

export function benchArgs<const O extends ParseArgsOptionsConfig>(usage: string, options: O): Values<O> {
  const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } } });
  if ((values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return values as Values<O>;
}
