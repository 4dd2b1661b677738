import type { ActivityDeps } from '../../activities';
import type { PreservationService, SubmittedSip } from '../../services/preservation-service';

/** Runs `before` on each SIP just before it is handed to the real service (to observe it, or to inject a fault and return the altered SIP). */
export function interceptSubmit(parts: ActivityDeps, before: (sip: SubmittedSip) => Promise<SubmittedSip | void>): ActivityDeps {
  const real = parts.service;
  const service: PreservationService = {
    verdict: (sipId) => real.verdict(sipId),
    verdictsSince: (since) => real.verdictsSince(since),
    report: (sipId) => real.report(sipId),
    submissions: () => real.submissions(),
    async submit(sip, onProgress) {
      return real.submit((await before(sip)) ?? sip, onProgress);
    },
  };
  return { ...parts, service };
}
