// The assignment problem: pair n rows with n columns, one each, at the least total cost. The
// Hungarian method with potentials (Kuhn 1955, Munkres 1957), O(n³), in the compact form of
// e-maxx's "Hungarian algorithm" article. stage-search.ts uses it to pair stages with the
// largest volunteers' memories so that the stages can hold the most layers.

/** Column chosen for each row, minimizing Σ cost[row][column]; costs must be finite. */
export function minCostAssignment(cost: readonly (readonly number[])[]): number[] {
  const n = cost.length;
  // 1-based, with row/column 0 as the sentinel the method grows its alternating paths from.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const rowOf = new Int32Array(n + 1); // column -> its row (0: free)
  const way = new Int32Array(n + 1);
  for (let row = 1; row <= n; row++) {
    rowOf[0] = row;
    let column0 = 0;
    const minv = new Float64Array(n + 1).fill(Number.POSITIVE_INFINITY);
    const used = new Uint8Array(n + 1);
    do {
      used[column0] = 1;
      const row0 = rowOf[column0] as number;
      let delta = Number.POSITIVE_INFINITY;
      let column1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const reduced =
          ((cost[row0 - 1] as readonly number[])[j - 1] as number) - (u[row0] as number) - (v[j] as number);
        if (reduced < (minv[j] as number)) {
          minv[j] = reduced;
          way[j] = column0;
        }
        if ((minv[j] as number) < delta) {
          delta = minv[j] as number;
          column1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[rowOf[j] as number] = (u[rowOf[j] as number] as number) + delta;
          v[j] = (v[j] as number) - delta;
        } else {
          minv[j] = (minv[j] as number) - delta;
        }
      }
      column0 = column1;
    } while (rowOf[column0] !== 0);
    do {
      const column1 = way[column0] as number;
      rowOf[column0] = rowOf[column1] as number;
      column0 = column1;
    } while (column0 !== 0);
  }
  const columnOf = new Array<number>(n).fill(0);
  for (let j = 1; j <= n; j++) if ((rowOf[j] as number) > 0) columnOf[(rowOf[j] as number) - 1] = j - 1;
  return columnOf;
}
