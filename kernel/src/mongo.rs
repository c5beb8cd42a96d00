//! MongoDB helpers shared by the services that keep their data there.

use futures::TryStreamExt;
use mongodb::bson::Document;
use mongodb::options::ReadConcern;
use mongodb::Collection;
use serde::de::DeserializeOwned;

/// One page of a connection and how many documents match in all, read in one snapshot (a
/// transaction with snapshot read concern), so the count covers exactly what the page saw
/// even while documents are written.
pub struct CountedPage {
    /// Everything the connection covers (without the cursor's bound).
    pub count_filter: Document,
    /// The page's documents: `count_filter` and the cursor's bound.
    pub page_filter: Document,
    pub sort: Document,
    pub limit: i64,
}

impl CountedPage {
    /// The total and the page.
    pub async fn read<T>(
        self,
        collection: &Collection<T>,
    ) -> Result<(u64, Vec<T>), mongodb::error::Error>
    where
        T: DeserializeOwned + Send + Sync + Unpin,
    {
        let mut session = collection.client().start_session().await?;
        session
            .start_transaction()
            .read_concern(ReadConcern::snapshot())
            .await?;
        let total = collection
            .count_documents(self.count_filter)
            .session(&mut session)
            .await?;
        let page: Vec<T> = collection
            .find(self.page_filter)
            .sort(self.sort)
            .limit(self.limit)
            .session(&mut session)
            .await?
            .stream(&mut session)
            .try_collect()
            .await?;
        session.commit_transaction().await?;
        Ok((total, page))
    }
}
