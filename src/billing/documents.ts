import { PassThrough, type Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { Decimal } from 'decimal.js';
import { DAY_MS } from '../core/clock.ts';
import { findMeter } from '../core/meters.ts';
import type { BillingContext } from './context.ts';
import { billingStore, type DocumentLine } from './store.ts';
import type { InvoicesTable } from './tables.ts';

// Invoice documents: a PDF of a closed invoice or credit note, as the partner center's statement
// and as a partner's invoice to its customer. The document shows the invoice's own numbers (its
// lines' amounts, subtotal, tax and total as stored), never numbers computed again.

interface Party {
  name: string;
  detail: string;
}

export interface InvoiceDocument {
  title: string;
  number: string;
  invoiceDate: Date;
  periodStart: Date;
  /** Exclusive. */
  periodEnd: Date;
  currency: string;
  seller: Party;
  buyer: Party;
  creditNoteFor?: string;
  groups: { heading: string; lines: DocumentLine[] }[];
  adjustments: DocumentLine[];
  subtotal: string;
  taxRate: string;
  tax: string;
  total: string;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** Builds the document of an invoice the caller may read (the route checked). */
export async function invoiceDocument(ctx: BillingContext, inv: InvoicesTable): Promise<InvoiceDocument> {
  const lines = await billingStore.documentLines(ctx.db, inv.id);
  const original = inv.credit_note_for
    ? ((await billingStore.invoiceById(ctx.db, inv.credit_note_for))?.number ?? undefined)
    : undefined;
  const ids = new Set<string>([inv.buyer_id]);
  if (inv.seller !== 'provider') ids.add(inv.seller);
  for (const l of lines) {
    if (l.customer_id) ids.add(l.customer_id);
    if (l.subscription_id) ids.add(l.subscription_id);
  }
  const names = await billingStore.names(ctx.db, [...ids]);
  const party = (id: string, fallback: string): Party => {
    const n = names.get(id);
    return { name: n?.name ?? fallback, detail: n?.domain ? `${n.domain} (${id})` : id };
  };
  const groups = new Map<string, DocumentLine[]>();
  const adjustments: DocumentLine[] = [];
  for (const l of lines) {
    if (!l.meter_id) {
      adjustments.push(l);
      continue;
    }
    const customer =
      inv.stream === 'partner' && l.customer_id ? `${names.get(l.customer_id)?.name ?? l.customer_id} · ` : '';
    const sub = l.subscription_id
      ? `${names.get(l.subscription_id)?.name ?? 'Subscription'} (${l.subscription_id})`
      : 'No subscription';
    const heading = customer + sub;
    groups.set(heading, [...(groups.get(heading) ?? []), l]);
  }
  return {
    title: inv.kind === 'credit_note' ? 'Credit note' : inv.stream === 'partner' ? 'Statement' : 'Invoice',
    number: inv.name,
    invoiceDate: inv.invoice_date,
    periodStart: inv.period_start,
    periodEnd: inv.period_end,
    currency: inv.currency,
    seller:
      inv.seller === 'provider'
        ? { name: 'The cloud provider', detail: 'Stackledger hub' }
        : party(inv.seller, 'Partner'),
    buyer: party(inv.buyer_id, 'Customer'),
    creditNoteFor: original,
    groups: [...groups].map(([heading, groupLines]) => ({ heading, lines: groupLines })),
    adjustments,
    subtotal: inv.subtotal,
    taxRate: inv.tax_rate,
    tax: inv.tax,
    total: inv.total,
  };
}

// Columns of the lines table: x position and width on an A4 page with 50 pt margins.
const COLUMNS = [
  { title: 'Meter', x: 50, width: 170, align: 'left' },
  { title: 'Type', x: 222, width: 60, align: 'left' },
  { title: 'Quantity', x: 284, width: 80, align: 'right' },
  { title: 'Unit', x: 368, width: 55, align: 'left' },
  { title: 'Unit price', x: 425, width: 55, align: 'right' },
  { title: 'Amount', x: 482, width: 63, align: 'right' },
] as const;

/**
 * The document as a PDF stream (pdfkit writes page by page, so a long invoice does not sit in
 * memory). pdfkit is loaded on the first document, not when the hub starts.
 */
export async function invoicePdf(d: InvoiceDocument): Promise<Readable> {
  const { default: PDFDocument } = await import('pdfkit');
  const pdf = new PDFDocument({
    size: 'A4',
    margin: 50,
    info: { Title: `${d.title} ${d.number}`, Author: 'Stackledger', Subject: `${d.title} ${d.number}` },
  });
  const out = new PassThrough();
  pdf.pipe(out);
  const bottom = () => pdf.page.height - pdf.page.margins.bottom - 20;

  pdf.font('Helvetica-Bold').fontSize(18).text(`${d.title} ${d.number}`);
  pdf.moveDown(0.5).font('Helvetica').fontSize(10);
  pdf.text(`Date: ${day(d.invoiceDate)}`);
  pdf.text(`Period: ${day(d.periodStart)} to ${day(new Date(d.periodEnd.getTime() - DAY_MS))}`);
  pdf.text(`Currency: ${d.currency}`);
  if (d.creditNoteFor) pdf.text(`Corrects invoice: ${d.creditNoteFor}`);
  pdf.moveDown();
  const top = pdf.y;
  pdf
    .font('Helvetica-Bold')
    .text('From', 50, top)
    .font('Helvetica')
    .text(d.seller.name)
    .text(d.seller.detail, { width: 230 });
  const leftEnd = pdf.y;
  pdf
    .font('Helvetica-Bold')
    .text('To', 300, top)
    .font('Helvetica')
    .text(d.buyer.name)
    .text(d.buyer.detail, { width: 245 });
  pdf.x = 50;
  pdf.y = Math.max(leftEnd, pdf.y) + 15;

  const row = (cells: string[], bold = false) => {
    if (pdf.y > bottom()) {
      pdf.addPage();
      header();
    }
    const y = pdf.y;
    pdf.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(8);
    let height = 0;
    COLUMNS.forEach((c, i) => {
      pdf.text(cells[i] ?? '', c.x, y, { width: c.width, align: c.align });
      height = Math.max(height, pdf.y - y);
    });
    pdf.x = 50;
    pdf.y = y + height + 3;
  };
  const header = () =>
    row(
      COLUMNS.map((c) => c.title),
      true,
    );
  const line = (text: string, bold = false) => {
    if (pdf.y > bottom()) pdf.addPage();
    pdf
      .font(bold ? 'Helvetica-Bold' : 'Helvetica')
      .fontSize(9)
      .text(text, 50, pdf.y, { width: 495 });
  };

  if (d.groups.length > 0) header();
  for (const g of d.groups) {
    pdf.moveDown(0.3);
    line(g.heading, true);
    for (const l of g.lines) {
      const meter = l.meter_id ? findMeter(l.meter_id) : undefined;
      row([
        meter?.name ?? l.meter_id ?? '',
        l.line_type === 'late usage' ? 'Late usage' : 'Usage',
        l.quantity ?? '',
        meter?.unit ?? '',
        l.unit_price ?? '',
        l.amount,
      ]);
    }
    line(`Subtotal ${d.currency} ${sum(g.lines)}`);
  }
  if (d.adjustments.length > 0) {
    pdf.moveDown(0.5);
    line('Credits and adjustments', true);
    for (const a of d.adjustments)
      line(
        `${a.line_type === 'credit' ? 'Credit' : 'Adjustment'} ${a.usage_from ?? ''}: ${a.description ?? ''} (${a.reason ?? ''})  ${d.currency} ${a.amount}`,
      );
  }
  pdf.moveDown();
  line(`Subtotal: ${d.currency} ${d.subtotal}`);
  line(`Tax (${new Decimal(d.taxRate).toString()}%): ${d.currency} ${d.tax}`);
  line(`Total: ${d.currency} ${d.total}`, true);
  pdf.end();
  return out;
}

const sum = (lines: DocumentLine[]) => lines.reduce((a, l) => a.plus(l.amount), new Decimal(0)).toFixed(2);

/** Answers with a PDF, to be shown in the browser or saved under `filename`. */
export function sendPdf(reply: FastifyReply, pdf: Readable, filename: string) {
  reply.header('content-type', 'application/pdf');
  reply.header('content-disposition', `inline; filename="${filename}"`);
  return reply.send(pdf);
}
