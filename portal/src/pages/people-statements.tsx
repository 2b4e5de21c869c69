import { partnerList } from '../api.ts';
import { ActionButton, formatMoney, Loading, Panel, Table, useLoad } from '../ui.tsx';
import { pc, type PageProps } from './csp-api.ts';
import { downloadWithToken } from './people-api.ts';

// What the vendor invoices the CSP (the partner center's invoices), each with its statement as a
// PDF (`/v1/invoices/{id}/documents/statement`), downloaded with the bearer token.

interface PartnerInvoice {
  id: string;
  invoiceDate: string;
  billingPeriodStartDate: string;
  totalCharges: number;
  currencyCode: string;
}

export function VendorStatements(p: PageProps) {
  const { base, token } = pc(p);
  const invoices = useLoad(() => partnerList<PartnerInvoice>(base, '/v1/invoices', token), [base]);
  return (
    <Panel title="From the vendor">
      <Loading state={invoices} what="the vendor's invoices">
        {(rows) => (
          <Table
            label="Vendor invoices"
            rows={rows}
            empty="The vendor has invoiced nothing yet."
            columns={[
              { header: 'Number', cell: (i) => i.id },
              { header: 'Period from', cell: (i) => i.billingPeriodStartDate.slice(0, 10) },
              { header: 'Date', cell: (i) => i.invoiceDate.slice(0, 10) },
              { header: 'Total', numeric: true, cell: (i) => formatMoney(i.totalCharges, i.currencyCode) },
              {
                header: 'Statement',
                cell: (i) => (
                  <ActionButton
                    kind="secondary"
                    label={`Download the statement of ${i.id}`}
                    onClick={() =>
                      downloadWithToken(
                        `${base}/v1/invoices/${encodeURIComponent(i.id)}/documents/statement`,
                        token,
                        `statement-${i.id}.pdf`,
                      )
                    }
                  >
                    Download PDF
                  </ActionButton>
                ),
              },
            ]}
          />
        )}
      </Loading>
    </Panel>
  );
}
