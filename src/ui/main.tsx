import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
// The page's own styles first: each component's CSS module comes after them and wins equal-specificity ties.
import './global.css';
import { App } from './App';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
