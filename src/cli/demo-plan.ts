// What `stackledger demo` does (demo.ts): two stacks, a month on the simulated clock, and three
// customers with their VMs. The plan only says what to do; every number reported comes back from
// the system's APIs (demo-flow.ts, demo-summary.ts).

export const STACKS = [
  { name: 'east', location: 'east' },
  { name: 'west', location: 'west' },
];
export const START = new Date('2026-01-01T00:00:00Z');
export const PERIOD = '2026-01';
// A month, and an hour more: January's last hour is closed, delivered and attributed, and January closes.
export const MONTH_AND_AN_HOUR = 'P31DT1H';
export const BASE_VM_SIZE_HOURS = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
export const BILLING_API = 'api-version=2026-11-01';

export interface PlannedVm {
  stack: string;
  name: string;
  size: string;
  image: string;
}

export interface PlannedCustomer {
  company: string;
  domain: string;
  /** The deployments whose registration the customer subscription is added to. */
  registeredOn: string[];
  vms: PlannedVm[];
}

// Registered on one deployment (and using the other too), on both, and on none.
export const PLAN: PlannedCustomer[] = [
  {
    company: 'Adatum',
    domain: 'adatum',
    registeredOn: ['east'],
    vms: [
      { stack: 'east', name: 'adatum-web', size: 'Standard_D2_v2', image: 'Win2019Datacenter' },
      { stack: 'west', name: 'adatum-dr', size: 'Standard_A1_v2', image: 'UbuntuLTS' },
    ],
  },
  {
    company: 'Bellows',
    domain: 'bellows',
    registeredOn: ['east', 'west'],
    vms: [
      { stack: 'east', name: 'bellows-app', size: 'Standard_D3_v2', image: 'UbuntuLTS' },
      { stack: 'west', name: 'bellows-db', size: 'Standard_A2_v2', image: 'Win2019Datacenter' },
    ],
  },
  {
    company: 'Corvid',
    domain: 'corvid',
    registeredOn: [],
    vms: [{ stack: 'east', name: 'corvid-vm', size: 'Standard_A1_v2', image: 'UbuntuLTS' }],
  },
];

export interface DemoCustomer {
  name: string;
  tenantId: string;
  subscriptionId: string;
  registeredOn: string[];
  usage: Record<string, number>;
  invoiceTotal: number;
}

export interface DemoResult {
  customers: DemoCustomer[];
  registrationSubscription: { subscriptionId: string; usage: Record<string, number> };
}
