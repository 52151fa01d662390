// What every page may read: who is signed in and the projects they can see.

export const state = {
  session: null,
  projects: [],
};

export function canWrite() {
  return Boolean(state.session) && state.session.role !== "reader";
}
