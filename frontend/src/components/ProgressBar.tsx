export interface ProgressBarProps {
  /** 0..100 */
  value: number;
  /** Accessible name, e.g. "Backup progress". */
  label: string;
  /** Text read out with the value, e.g. "Exporting events". */
  valueText?: string;
  tone?: 'active' | 'done' | 'failed';
}

export function ProgressBar({ value, label, valueText, tone = 'active' }: ProgressBarProps) {
  const percent = Math.max(0, Math.min(100, Math.round(Number.isFinite(value) ? value : 0)));
  return (
    <div className={`progress progress-${tone}`}>
      <div
        className="progress-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={valueText ? `${percent}% – ${valueText}` : `${percent}%`}
      >
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <span className="progress-percent" aria-hidden="true">
        {percent}%
      </span>
    </div>
  );
}
