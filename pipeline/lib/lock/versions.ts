/**
 * R package versions as R compares them (`package_version`): numbers separated by `.` or `-`,
 * compared number by number, a shorter version lower when all its numbers match. And the
 * constraints DESCRIPTION files put on them: `R (>= 4.3.0)`, `Rcpp (>= 1.0.10)`.
 */

export type Operator = ">=" | ">" | "<=" | "<" | "==" | "!=";

export interface Constraint {
  readonly op: Operator;
  readonly version: string;
}

const parts = (v: string): number[] => v.split(/[.-]/).map((n) => Number(n));

/** Negative, zero or positive, as `a` is lower than, equal to or higher than `b`. */
export function compareVersions(a: string, b: string): number {
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

export function satisfies(version: string, c: Constraint): boolean {
  const d = compareVersions(version, c.version);
  switch (c.op) {
    case ">=":
      return d >= 0;
    case ">":
      return d > 0;
    case "<=":
      return d <= 0;
    case "<":
      return d < 0;
    case "==":
      return d === 0;
    case "!=":
      return d !== 0;
  }
}

export const describeConstraint = (c: Constraint): string => `${c.op} ${c.version}`;
