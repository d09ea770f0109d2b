/**
 * Which addresses push gateway requests may connect to (`push:` in weft.yaml): the shared
 * outbound address policy (services/core/address-policy.ts) with the `push:` options.
 */
import type { PushConfig } from '../../config.ts';
import { AddressPolicy, DENIED_RANGES, DeniedAddressError } from '../core/address-policy.ts';

export { DeniedAddressError };

/** The ranges refused by default (services/core/address-policy.ts). */
export const DENIED_PUSH_RANGES = DENIED_RANGES;

export class PushAddressPolicy extends AddressPolicy {
  constructor(config: PushConfig) {
    super(config, 'the push gateway address');
  }
}
