// The partner center's offer ids that more than one domain names: shared by the partner center
// (its catalogue), registration (the vendor's rule that a linked customer subscription was bought
// under the CSP offer) and the CLI.

/** Microsoft Azure under the Cloud Solution Provider program: a usage-based cloud subscription sold by a partner. */
export const CSP_OFFER_ID = 'MS-AZR-0145P';
