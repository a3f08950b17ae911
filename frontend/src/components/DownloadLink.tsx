import type { ReactNode } from 'react';
import { useState } from 'react';

import { fetchBackupFile, getApiKey, getBackupDownloadUrl } from '../api';
import { saveBlob } from '../utils/download';

export interface DownloadLinkProps {
  jobId: string;
  /** The list's download_url when it has one; else the contract's path. */
  href?: string | null;
  children: ReactNode;
  /** Accessible name when the visible text is short ("Download"). */
  ariaLabel?: string;
  className?: string;
}

/**
 * A real link to the archive, so the browser streams it straight to disk. A link cannot send
 * the X-API-Key header, so when a key is in use the file is fetched with the key and saved.
 */
export function DownloadLink({ jobId, href, children, ariaLabel, className = 'button' }: DownloadLinkProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const url = href || getBackupDownloadUrl(jobId);

  return (
    <span className="download">
      <a
        href={url}
        download
        className={className}
        aria-label={ariaLabel}
        aria-busy={busy || undefined}
        onClick={(event) => {
          if (!getApiKey()) return; // no key: the plain link works
          event.preventDefault();
          if (busy) return;
          setBusy(true);
          setError(null);
          fetchBackupFile(jobId)
            .then(({ blob, filename }) => saveBlob(blob, filename))
            .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)))
            .finally(() => setBusy(false));
        }}
      >
        {busy ? 'Downloading…' : children}
      </a>
      {error ? (
        <span className="message message-error" role="alert">
          Download failed: {error}
        </span>
      ) : null}
    </span>
  );
}
