import { TYPES } from './references.ts';
import { DEFAULT_SECURITY_RULES, networkErrors, readSecurityRules, type SecurityRuleSpec } from './rules.ts';
import type { NetworkType } from './service.ts';
import { networkStore } from './store.ts';
import { backReferences, baseView, childView, networkResourceId } from './views.ts';

// Network security groups: the caller's rules (no two of one priority and direction), Azure's
// default rules below them. One that a subnet or a NIC uses cannot go.

export const networkSecurityGroups: NetworkType = {
  type: TYPES.networkSecurityGroups,
  quota: { limit: 'maxSecurityGroupsPerSubscription', name: 'NetworkSecurityGroups' },
  children: 'securityRules',

  async write({ row }, properties) {
    return { securityRules: readSecurityRules(networkResourceId(row), properties.securityRules) };
  },

  async release({ db, row }, withGroup) {
    const users = (await networkStore.referencesTo(db, [row.id])).filter((r) => r.kind === 'networkSecurityGroup');
    if (users.length > 0 && !withGroup)
      throw networkErrors.nsgInUse(
        networkResourceId(row),
        users.map((u) => u.holder),
      );
  },

  view(row, referencedBy) {
    const rules = (row.properties.securityRules as SecurityRuleSpec[] | undefined) ?? [];
    const uses = (r: { kind: string }) => r.kind === 'networkSecurityGroup';
    const subnets = backReferences(referencedBy, (r) => uses(r) && r.holder.toLowerCase().includes('/subnets/'));
    const networkInterfaces = backReferences(
      referencedBy,
      (r) => uses(r) && !r.holder.toLowerCase().includes('/subnets/'),
    );
    return baseView(row, {
      securityRules: rules.map((r) => childView(row, 'securityRules', r.name, r.properties)),
      defaultSecurityRules: DEFAULT_SECURITY_RULES.map((r) =>
        childView(row, 'defaultSecurityRules', r.name, r.properties),
      ),
      ...(networkInterfaces ? { networkInterfaces } : {}),
      ...(subnets ? { subnets } : {}),
    });
  },
};
