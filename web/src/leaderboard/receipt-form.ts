// The "verify a receipt" form: a volunteer pastes a receipt from the volunteer page and gets
// a verdict in words. The verdict element is a status region, so it is read out when it lands.
import { creditsOf } from '../../../protocol/credits.ts';
import type { KeysBody, LedgerPageBody } from '../../../protocol/ledger-api.ts';
import { formatCredits, formatTokens, shortHash } from './format.ts';
import { checkReceipt, type ReceiptVerdict } from './receipt-check.ts';

export function wireReceiptForm(
  form: HTMLFormElement,
  input: HTMLTextAreaElement,
  verdict: HTMLElement,
  page: (after: number, limit: number) => Promise<LedgerPageBody>,
  keys: () => Promise<KeysBody>,
): void {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const submit = form.querySelector('button');
    if (submit) submit.disabled = true;
    verdict.dataset.verdict = 'none';
    verdict.textContent = 'Checking the receipt…';
    checkReceipt(input.value.trim(), page, keys)
      .then((result) => {
        const { ok, text } = describeVerdict(result);
        verdict.dataset.verdict = ok ? 'ok' : 'bad';
        verdict.textContent = text;
      })
      .catch((error: unknown) => {
        verdict.dataset.verdict = 'bad';
        verdict.textContent = `Could not check the receipt: ${error instanceof Error ? error.message : error}`;
      })
      .finally(() => {
        if (submit) submit.disabled = false;
      });
  });
}

export function describeVerdict(verdict: ReceiptVerdict): { ok: boolean; text: string } {
  switch (verdict.kind) {
    case 'verified': {
      const { entry } = verdict;
      const credits = formatCredits(creditsOf(entry.flops));
      return {
        ok: true,
        text: `Verified: this relay signed the receipt, and the ledger holds the entry at height ${entry.height} (round ${entry.round}, ${formatTokens(entry.tokens)} tokens, ${credits} TFLOP).`,
      };
    }
    case 'not-json':
      return { ok: false, text: `Refused: that is not JSON (${verdict.detail}).` };
    case 'malformed':
      return { ok: false, text: `Refused: that is not a Potluck receipt (${verdict.detail}).` };
    case 'other-relay':
      return {
        ok: false,
        text: `Refused: the receipt names relay key ${verdict.receiptKey}, but this relay's key at that height was ${verdict.relayKey}.`,
      };
    case 'altered':
      return {
        ok: false,
        text: `Refused: the entry was altered. Its content hashes to ${shortHash(verdict.actual)}, not the signed ${shortHash(verdict.stated)}.`,
      };
    case 'bad-signature':
      return { ok: false, text: "Refused: the signature does not verify against this relay's key." };
    case 'not-in-ledger':
      return {
        ok: false,
        text: verdict.found
          ? `Signed by this relay, but the ledger holds a different entry at height ${verdict.entry.height} (${shortHash(verdict.found)}): the history was changed.`
          : `Signed by this relay, but the ledger has no entry at height ${verdict.entry.height}.`,
      };
    default: {
      const unreachable: never = verdict;
      return unreachable;
    }
  }
}
