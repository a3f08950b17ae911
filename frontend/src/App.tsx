import { useCallback, useEffect, useState } from 'react';

import type { ApiKeyPromptReason } from './api';
import { setApiKeyPrompt } from './api';
import { ApiKeyDialog } from './components/ApiKeyDialog';
import { AuditPanel } from './components/AuditPanel';
import { AutomaticBackupsPanel } from './components/AutomaticBackupsPanel';
import { BackupChart } from './components/BackupChart';
import { BackupList } from './components/BackupList';
import { CreateBackupPanel } from './components/CreateBackupPanel';
import { DrillsPanel } from './components/DrillsPanel';
import { HealthLine } from './components/HealthLine';
import { NotificationsCard } from './components/NotificationsCard';
import { RestorePanel } from './components/RestorePanel';
import { useCan } from './hooks/useWhoAmI';

interface PendingPrompt {
  reason: ApiKeyPromptReason;
  resolve: (key: string | null) => void;
}

export function App() {
  const [prompt, setPrompt] = useState<PendingPrompt | null>(null);
  const canRestore = useCan('restore'); // what the key's role may use (docs/rest-api.md#roles)
  const [deletedIds, setDeletedIds] = useState<ReadonlySet<string>>(() => new Set());

  // The API client asks here for a key when the server answers 401.
  useEffect(() => {
    setApiKeyPrompt((reason) => new Promise<string | null>((resolve) => setPrompt({ reason, resolve })));
    return () => setApiKeyPrompt(null);
  }, []);

  const answer = useCallback(
    (key: string | null) => {
      prompt?.resolve(key);
      setPrompt(null);
    },
    [prompt],
  );

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="page-header">
        <div className="page-header-inner">
          <h1>backupd</h1>
          <p>Back up and restore the monitoring database</p>
        </div>
      </header>
      <main id="main" className="page">
        <HealthLine />
        <CreateBackupPanel deletedIds={deletedIds} />
        <BackupList onDeleted={(id) => setDeletedIds((prev) => new Set(prev).add(id))} />
        {canRestore ? <RestorePanel /> : null}
        <AutomaticBackupsPanel />
        <DrillsPanel />
        <BackupChart />
        <NotificationsCard />
        <AuditPanel />
      </main>
      {prompt ? (
        <ApiKeyDialog reason={prompt.reason} onSubmit={(key) => answer(key)} onCancel={() => answer(null)} />
      ) : null}
    </>
  );
}
