import type { StatusBackup } from '../api/status';
import { useStatus } from '../hooks/useStatus';
import { formatBytes, formatDateTime } from '../utils/format';

const WIDTH = 640;
const HEIGHT = 160;
const PAD = { top: 12, right: 44, bottom: 18, left: 44 };

function seconds(value: number): string {
  return value < 10 ? `${value.toFixed(1)} s` : value < 120 ? `${Math.round(value)} s` : `${(value / 60).toFixed(1)} min`;
}

/** The share of a backup's rows copied from the previous backup (0 when it read everything or did not say). */
export function reusedShare(b: StatusBackup): number {
  const reused = b.rows_reused ?? 0;
  const total = reused + (b.rows_read ?? 0);
  return total > 0 ? reused / total : 0;
}

function reusedText(b: StatusBackup): string {
  const share = reusedShare(b);
  return share > 0 ? `; ${Math.round(share * 100)}% of the rows reused from the previous backup` : '';
}

/**
 * Recent backups, oldest on the left: bars are archive sizes (left scale), the line is how long each took
 * (right scale); the pale lower part of a bar is the share of its rows copied from the previous backup
 * (proved unchanged) rather than read; a failed backup is a red mark on the axis. Inline SVG, no chart library.
 */
export function Chart({ backups }: { backups: readonly StatusBackup[] }) {
  const points = [...backups].reverse();
  if (!points.length) return <p className="empty">No backup yet.</p>;
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const maxSize = Math.max(1, ...points.map((b) => b.size_bytes ?? 0));
  const maxDuration = Math.max(0.001, ...points.map((b) => b.duration_seconds ?? 0));
  const step = innerW / points.length;
  const barW = Math.max(2, Math.min(28, step * 0.6));
  const x = (i: number) => PAD.left + step * i + step / 2;
  const ySize = (v: number) => PAD.top + innerH - (v / maxSize) * innerH;
  const yDur = (v: number) => PAD.top + innerH - (v / maxDuration) * innerH;
  const line = points
    .map((b, i) => (b.status === 'completed' && b.duration_seconds !== null ? `${x(i)},${yDur(b.duration_seconds)}` : ''))
    .filter(Boolean)
    .join(' ');
  const done = points.filter((b) => b.status === 'completed');
  const label = `${done.length} completed and ${points.length - done.length} failed backups; largest ${formatBytes(
    maxSize,
  )}, longest ${seconds(maxDuration)}`;
  return (
    <svg
      className="backup-chart"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label={label}
      data-testid="backup-chart-svg"
    >
      <line x1={PAD.left} x2={WIDTH - PAD.right} y1={PAD.top + innerH} y2={PAD.top + innerH} className="chart-axis" />
      <text x={PAD.left - 4} y={PAD.top + 8} textAnchor="end" className="chart-scale">
        {formatBytes(maxSize)}
      </text>
      <text x={WIDTH - PAD.right + 4} y={PAD.top + 8} className="chart-scale chart-scale-duration">
        {seconds(maxDuration)}
      </text>
      {points.map((b, i) =>
        b.status === 'completed' ? (
          <rect
            key={b.id}
            x={x(i) - barW / 2}
            y={ySize(b.size_bytes ?? 0)}
            width={barW}
            height={Math.max(1, PAD.top + innerH - ySize(b.size_bytes ?? 0))}
            className={`chart-bar chart-bar-${b.trigger}`}
            data-testid="chart-bar"
          >
            <title>
              {formatDateTime(b.completed_at)}: {formatBytes(b.size_bytes)} in {seconds(b.duration_seconds ?? 0)} (
              {b.trigger}){reusedText(b)}
            </title>
          </rect>
        ) : (
          <rect
            key={b.id}
            x={x(i) - barW / 2}
            y={PAD.top + innerH - 4}
            width={barW}
            height={4}
            className="chart-failed"
            data-testid="chart-failed"
          >
            <title>{formatDateTime(b.completed_at ?? b.created_at)}: failed</title>
          </rect>
        ),
      )}
      {points.map((b, i) => {
        const share = reusedShare(b);
        if (b.status !== 'completed' || share === 0) return null;
        const height = Math.max(1, PAD.top + innerH - ySize(b.size_bytes ?? 0)) * share;
        return (
          <rect
            key={`r-${b.id}`}
            x={x(i) - barW / 2}
            y={PAD.top + innerH - height}
            width={barW}
            height={height}
            className="chart-bar-reused"
            data-testid="chart-reused"
          />
        );
      })}
      {line ? <polyline points={line} className="chart-line" fill="none" /> : null}
      {points.map((b, i) =>
        b.status === 'completed' && b.duration_seconds !== null ? (
          <circle key={`d-${b.id}`} cx={x(i)} cy={yDur(b.duration_seconds)} r={3} className="chart-dot" />
        ) : null,
      )}
    </svg>
  );
}

export function BackupChart() {
  const { data } = useStatus();
  if (!data) return null;
  return (
    <section className="card" aria-labelledby="chart-heading" data-testid="backup-chart">
      <h2 id="chart-heading">Recent backups</h2>
      <p className="hint">
        <span className="chart-key chart-key-size" aria-hidden="true" /> size{' '}
        <span className="chart-key chart-key-reused" aria-hidden="true" /> share reused from the previous backup{' '}
        <span className="chart-key chart-key-duration" aria-hidden="true" /> duration, oldest on the left
      </p>
      <Chart backups={data.recent_backups} />
    </section>
  );
}
