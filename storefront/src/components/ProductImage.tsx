// A product's image; a missing or unreachable one leaves a neutral box of the same size.
import { useState, type ReactNode } from "react";

export function ProductImage({ url, alt, size }: { url: string | null | undefined; alt: string; size: number }): ReactNode {
  const [failed, setFailed] = useState(false);
  if (url === null || url === undefined || url === "" || failed) {
    return <div className="image-placeholder" style={{ width: size, height: size }} aria-hidden="true" />;
  }
  return (
    <img
      src={url}
      alt={alt}
      width={size}
      height={size}
      loading="lazy"
      onError={() => {
        setFailed(true);
      }}
    />
  );
}
